# kiln test template: the real pipeline's provisioners, on packer's `null` builder with an SSH
# communicator to a throwaway sshd on 127.0.0.1 (started by ../record.sh). Packer must run in a
# directory that holds `files/` (uploaded) and `stages/` (the scripts from ../scripts/).
# Needs Packer 1.6.6-compatible HCL2 (no `packer { required_plugins }` block).

variable "ssh_port" {
  type = number
}

variable "ssh_username" {
  type = string
}

variable "ssh_private_key_file" {
  type = string
}

# success | fail (03 exits 3) | cancel (03 sleeps 300 s)
variable "scenario" {
  type    = string
  default = "success"
}

# where 03 (scenario cancel) writes the PID of its long sleep, so the recorder can reap it
variable "pidfile" {
  type    = string
  default = ""
}

source "null" "rke2" {
  communicator         = "ssh"
  ssh_host             = "127.0.0.1"
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "30s"
}

build {
  sources = ["source.null.rke2"]

  provisioner "file" {
    source      = "files/"
    destination = "/tmp/rke2-artifacts"
  }

  provisioner "shell" {
    environment_vars = ["KILN_SCENARIO=${var.scenario}", "KILN_PIDFILE=${var.pidfile}"]
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
