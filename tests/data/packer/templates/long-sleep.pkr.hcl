# kiln integration-test template: REAL packer, no SSH, no network. The null builder with
# communicator "none" and two shell-local provisioners; the second (long-sleep/02-long-sleep.sh)
# sleeps 300 s so that a test can cancel the build (SIGINT to packer's process group) while it runs.
# Run it from anywhere:
#   CHECKPOINT_DISABLE=1 packer build -machine-readable tests/data/packer/templates/long-sleep.pkr.hcl
# Packer prints the script paths as `Running local shell script: <dir of this file>/long-sleep/0N-....sh`
# (relative when the template path is relative), so the stages are `01-quick` and `02-long-sleep`.

source "null" "rke2" {
  communicator = "none"
}

build {
  sources = ["source.null.rke2"]

  provisioner "shell-local" {
    script = "${path.root}/long-sleep/01-quick.sh"
  }

  provisioner "shell-local" {
    script = "${path.root}/long-sleep/02-long-sleep.sh"
  }
}
