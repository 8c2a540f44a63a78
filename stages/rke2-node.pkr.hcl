# RKE2 node image for CAPO: an Ubuntu cloud image with RKE2, its airgap images and the pinned
# add-on images baked in. Build name: openstack.rke2.
#
# Auth comes only from the environment (`source openrc` or OS_CLOUD + clouds.yaml): no secret here.
# Packer 1.6.6 (Debian) builds this file as is. Packer >= 1.10 needs the openstack plugin first:
# see stages/README.md (`packer init stages/plugins` or `packer plugins install ...`).

variable "source_image_name" {
  type        = string
  default     = "ubuntu-22.04"
  description = "Glance image the build VM boots from (ubuntu-pro-22.04-fips for FIPS)."
}

variable "flavor" {
  type        = string
  description = "Nova flavor of the build VM."
}

variable "network_id" {
  type        = string
  description = "Neutron network of the build VM (needs DHCP and metadata access)."
}

variable "floating_ip_pool" {
  type        = string
  default     = ""
  description = "External network to take a floating IP from; empty: none (Packer reaches the fixed IP)."
}

variable "security_groups" {
  type        = list(string)
  default     = []
  description = "Security groups of the build VM (SSH from the build host must be allowed)."
}

variable "ssh_username" {
  type    = string
  default = "ubuntu"
}

variable "k8s_version" {
  type        = string
  default     = "v1.28.15+rke2r1"
  description = "RKE2 release of the artifacts in files/; stage 02 fails if they differ."
}

variable "fips_enabled" {
  type    = bool
  default = false
}

variable "ubuntu_pro_token" {
  type        = string
  default     = env("UBUNTU_PRO_TOKEN")
  description = "Optional: attaches an unattached Pro image for FIPS; detached again before the snapshot."
}

variable "harbor_registry" {
  type    = string
  default = "harbor.vitro.lan"
}

variable "harbor_ca_file" {
  type        = string
  default     = ""
  description = "Local path of the CA that signs Harbor's certificate; empty: the image's trust store."
}

variable "harbor_insecure" {
  type        = bool
  default     = false
  description = "Skip TLS verification of Harbor during the pre-pull (warned about)."
}

variable "prepull_jobs" {
  type    = number
  default = 4
}

variable "prepull_strict" {
  type        = bool
  default     = false
  description = "Fail the build when any image cannot be pre-pulled."
}

variable "offline_debs_dir" {
  type        = string
  default     = ""
  description = "Local directory of .deb files for stage 01's fallback; empty: stages/offline-debs."
}

variable "os_distro" {
  type    = string
  default = "ubuntu"
}

variable "os_version" {
  type    = string
  default = "22.04"
}

variable "ssh_timeout" {
  type    = string
  default = "20m"
}

# Packer sets PACKER_RUN_UUID before it parses the template; build.PackerRunUUID is not available
# in a source block (nor in post-processors) in 1.6.6. Do not set this yourself.
variable "packer_run_uuid" {
  type    = string
  default = env("PACKER_RUN_UUID")
}

locals {
  build_time         = timestamp()
  build_day          = formatdate("YYYYMMDD", local.build_time)
  build_date         = formatdate("YYYY-MM-DD", local.build_time)
  k8s_minor          = join(".", slice(split(".", var.k8s_version), 0, 2))
  kubernetes_version = split("+", var.k8s_version)[0]
  image_name         = "rke2-node-${local.k8s_minor}-${local.build_day}"
  schema_version     = "1.0"
  files_dir          = "${path.root}/../files"
  debs_dir           = var.offline_debs_dir != "" ? var.offline_debs_dir : "${path.root}/offline-debs"
  remote_ca_file     = var.harbor_ca_file != "" ? "/tmp/rke2-artifacts/${basename(var.harbor_ca_file)}" : ""

  stage_env = [
    "K8S_VERSION=${var.k8s_version}",
    "FIPS_ENABLED=${var.fips_enabled}",
    "HARBOR_REGISTRY=${var.harbor_registry}",
    "HARBOR_CA_FILE=${local.remote_ca_file}",
    "HARBOR_INSECURE=${var.harbor_insecure}",
    "PREPULL_JOBS=${var.prepull_jobs}",
    "PREPULL_STRICT=${var.prepull_strict}",
    "SOURCE_IMAGE=${var.source_image_name}",
    "IMAGE_NAME=${local.image_name}",
    "PACKER_RUN_UUID=${var.packer_run_uuid}",
  ]
  stage_execute = "chmod +x {{ .Path }}; sudo env {{ .Vars }} bash {{ .Path }}"

  # Provenance, written both as Glance image properties and into packer-manifest.json.
  provenance = {
    kubernetes_version      = local.kubernetes_version
    rke2_version            = var.k8s_version
    build_date              = local.build_date
    fips_enabled            = var.fips_enabled ? "true" : "false"
    source_image            = var.source_image_name
    os_distro               = var.os_distro
    os_version              = var.os_version
    packer_run_uuid         = var.packer_run_uuid
    manifest_schema_version = local.schema_version
  }
}

source "openstack" "rke2" {
  source_image_name   = var.source_image_name
  flavor              = var.flavor
  networks            = [var.network_id]
  floating_ip_network = var.floating_ip_pool
  security_groups     = var.security_groups
  ssh_username        = var.ssh_username
  ssh_timeout         = var.ssh_timeout
  image_name          = local.image_name
  image_tags          = ["rke2-node", "rke2-node-${local.k8s_minor}"]

  # Glance properties: provenance the console shows without SSH, plus the guest agent flag
  # (Nova only gives the guest agent its virtio channel when the image asks for it).
  metadata = merge(local.provenance, { hw_qemu_guest_agent = "yes" })
}

build {
  sources = ["source.openstack.rke2"]

  provisioner "shell" {
    inline = [
      "rc=0; cloud-init status --wait >/dev/null || rc=$?",
      "if [ \"$rc\" -eq 2 ]; then echo 'kiln:warn cloud-init finished with recoverable errors'; elif [ \"$rc\" -ne 0 ]; then cloud-init status --long; exit \"$rc\"; fi",
      "mkdir -p /tmp/rke2-artifacts /tmp/packer-debs",
    ]
  }

  provisioner "file" {
    sources     = compact(["${local.files_dir}/", var.harbor_ca_file])
    destination = "/tmp/rke2-artifacts/"
  }

  provisioner "file" {
    source      = "${local.debs_dir}/"
    destination = "/tmp/packer-debs/"
  }

  provisioner "shell" {
    script           = "${path.root}/01-system-packages.sh"
    environment_vars = local.stage_env
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/02-install-rke2.sh"
    environment_vars = local.stage_env
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/03-prepull-images.sh"
    environment_vars = local.stage_env
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/04-harden.sh"
    environment_vars = concat(local.stage_env, ["UBUNTU_PRO_TOKEN=${var.ubuntu_pro_token}"])
    execute_command  = local.stage_execute
  }

  # FIPS only: the FIPS kernel runs after a reboot, so 06 records it and 07 can check it.
  provisioner "shell" {
    inline = [
      "if [ -e /etc/packer-build/reboot-required ]; then echo 'kiln:progress 1/1 rebooting into the FIPS kernel'; sudo rm -f /etc/packer-build/reboot-required; sudo systemctl reboot; sleep 300; fi",
    ]
    expect_disconnect = true
  }

  provisioner "shell" {
    script              = "${path.root}/06-manifest.sh"
    environment_vars    = local.stage_env
    execute_command     = local.stage_execute
    start_retry_timeout = "15m"
  }

  provisioner "shell" {
    script           = "${path.root}/07-validate.sh"
    environment_vars = local.stage_env
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/05-cleanup.sh"
    environment_vars = local.stage_env
    execute_command  = local.stage_execute
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
    custom_data = merge(local.provenance, {
      image_name      = local.image_name
      harbor_registry = var.harbor_registry
    })
  }
}
