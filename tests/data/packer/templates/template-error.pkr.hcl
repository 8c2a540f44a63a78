# kiln test template with a deliberate error: it references an undeclared variable
# (var.image_name), which Packer 1.6.6 reports before any build starts.

source "null" "rke2" {
  communicator = "none"
}

build {
  sources = ["source.null.rke2"]

  provisioner "shell-local" {
    inline = ["echo building ${var.image_name}"]
  }
}
