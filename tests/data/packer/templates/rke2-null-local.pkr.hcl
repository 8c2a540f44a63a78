# kiln test template: the real pipeline's stage scripts run with `shell-local` on packer's `null`
# builder (no communicator, no SSH), for the `Running local shell script:` form of the stage lines.
# Run from a directory that holds `stages/` (../record.sh copies ../scripts/ there).

# success | fail (03 exits 3)
variable "scenario" {
  type    = string
  default = "success"
}

source "null" "rke2" {
  communicator = "none"
}

build {
  sources = ["source.null.rke2"]

  provisioner "shell-local" {
    environment_vars = ["KILN_SCENARIO=${var.scenario}"]
    scripts = [
      "stages/01-system-packages.sh",
      "stages/02-install-rke2.sh",
      "stages/03-prepull-images.sh",
      "stages/04-harden.sh",
      "stages/06-manifest.sh",
      "stages/07-validate.sh",
      "stages/05-cleanup.sh",
    ]
  }
}
