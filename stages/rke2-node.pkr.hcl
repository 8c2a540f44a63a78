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

variable "ssh_port" {
  type        = number
  default     = 22
  description = "SSH port of the build VM (the end-to-end test points it at a local sshd)."
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

# Secret: set it as PKR_VAR_ubuntu_pro_token (or UBUNTU_PRO_TOKEN) in packer's environment, never
# with -var (packer's argv is readable by every user). It reaches stage 04 through the shell
# provisioner's env var file (0600, removed after the script), never on a command line.
variable "ubuntu_pro_token" {
  type        = string
  default     = env("UBUNTU_PRO_TOKEN")
  sensitive   = true
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
  description = "Fail the build when any image cannot be pre-pulled (default: partial pre-pulls allowed, warned by 03 and the gate)."
}

variable "prepull_timeout" {
  type        = number
  default     = 900
  description = "Seconds one pull attempt may take before it is killed."
}

variable "prepull_attempts" {
  type        = number
  default     = 2
  description = "Attempts per image (a failed or timed-out pull is retried)."
}

variable "rke2_registry_mirror" {
  type        = bool
  default     = false
  description = "Write /etc/rancher/rke2/registries.yaml so nodes pull the pinned upstream names through Harbor (no credentials)."
}

variable "image_suffix" {
  type        = string
  default     = ""
  description = "A second image of the same day: 2 names it rke2-node-<minor>-<YYYYMMDD>-2 (CAPO's filter by name must match exactly one image)."
}

variable "build_dir" {
  type        = string
  default     = "/var/tmp/kiln-build"
  description = "Directory on the build VM for the stage scripts, lib/ and uploads; not /tmp (the FIPS reboot wipes it). 05 empties /var/tmp."
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
  image_name         = "rke2-node-${local.k8s_minor}-${local.build_day}${var.image_suffix != "" ? "-${var.image_suffix}" : ""}"
  schema_version     = "1.0"
  files_dir          = "${path.root}/../files"
  debs_dir           = var.offline_debs_dir != "" ? var.offline_debs_dir : "${path.root}/offline-debs"
  remote_stages      = "${var.build_dir}/stages"
  remote_artifacts   = "${var.build_dir}/artifacts"
  remote_debs        = "${var.build_dir}/debs"
  remote_ca_file     = var.harbor_ca_file != "" ? "${local.remote_artifacts}/${basename(var.harbor_ca_file)}" : ""
  # CAPRKE2's airGappedChecksum: the SHA-256 of the sha256sum file that 02 copies unchanged to
  # /opt/rke2-artifacts (06 records the same value from the image itself; 07 compares).
  # abspath: Packer 1.6.6's file functions resolve a relative path against the template's folder,
  # while path.root is relative to the working directory.
  airgap_sums        = abspath("${local.files_dir}/sha256sum-amd64.txt")
  airgapped_checksum = fileexists(local.airgap_sums) ? sha256(file(local.airgap_sums)) : ""

  stage_env = [
    "K8S_VERSION=${var.k8s_version}",
    "FIPS_ENABLED=${var.fips_enabled}",
    "HARBOR_REGISTRY=${var.harbor_registry}",
    "HARBOR_CA_FILE=${local.remote_ca_file}",
    "HARBOR_INSECURE=${var.harbor_insecure}",
    "PREPULL_JOBS=${var.prepull_jobs}",
    "PREPULL_STRICT=${var.prepull_strict}",
    "PREPULL_TIMEOUT=${var.prepull_timeout}",
    "PREPULL_ATTEMPTS=${var.prepull_attempts}",
    "RKE2_REGISTRY_MIRROR=${var.rke2_registry_mirror}",
    "ARTIFACT_DIR=${local.remote_artifacts}",
    "PACKER_DEBS_DIR=${local.remote_debs}",
    "SOURCE_IMAGE=${var.source_image_name}",
    "IMAGE_NAME=${local.image_name}",
    "PACKER_RUN_UUID=${var.packer_run_uuid}",
  ]
  # Variables travel in Packer's env var file (use_env_var_file: 0600, owned by the SSH user,
  # deleted after the script), sourced by root's shell: no value is ever on a command line (sudo
  # logs and `ps` show only the file's path).
  stage_execute = "chmod +x {{ .Path }}; sudo bash -c 'set -a; . {{ .EnvVarFile }}; set +a; exec bash {{ .Path }}'"

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
    rke2_airgapped_checksum = local.airgapped_checksum
  }
}

source "openstack" "rke2" {
  source_image_name   = var.source_image_name
  flavor              = var.flavor
  networks            = [var.network_id]
  floating_ip_network = var.floating_ip_pool
  security_groups     = var.security_groups
  ssh_username        = var.ssh_username
  ssh_port            = var.ssh_port
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
      "umask 077; mkdir -p ${local.remote_stages} ${local.remote_artifacts} ${local.remote_debs}",
    ]
  }

  # lib/ beside the stage scripts: the shell provisioners upload each script into the same folder
  # (remote_folder), where it sources lib/. (Stage 03 keeps a copy of itself, the pinned list,
  # for 07. The console orders its stages by the first mention of each script in this file:
  # name no stage script above 01's provisioner.)
  provisioner "file" {
    source      = "${path.root}/lib"
    destination = "${local.remote_stages}/"
  }

  provisioner "file" {
    sources     = compact(["${local.files_dir}/", var.harbor_ca_file])
    destination = "${local.remote_artifacts}/"
  }

  provisioner "file" {
    source      = "${local.debs_dir}/"
    destination = "${local.remote_debs}/"
  }

  provisioner "shell" {
    script           = "${path.root}/01-system-packages.sh"
    environment_vars = local.stage_env
    use_env_var_file = true
    remote_folder    = local.remote_stages
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/02-install-rke2.sh"
    environment_vars = local.stage_env
    use_env_var_file = true
    remote_folder    = local.remote_stages
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/03-prepull-images.sh"
    environment_vars = local.stage_env
    use_env_var_file = true
    remote_folder    = local.remote_stages
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/04-harden.sh"
    environment_vars = concat(local.stage_env, ["UBUNTU_PRO_TOKEN=${var.ubuntu_pro_token}"])
    use_env_var_file = true
    remote_folder    = local.remote_stages
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
    use_env_var_file    = true
    remote_folder       = local.remote_stages
    execute_command     = local.stage_execute
    start_retry_timeout = "15m"
  }

  provisioner "shell" {
    script           = "${path.root}/07-validate.sh"
    environment_vars = local.stage_env
    use_env_var_file = true
    remote_folder    = local.remote_stages
    execute_command  = local.stage_execute
  }

  provisioner "shell" {
    script           = "${path.root}/05-cleanup.sh"
    environment_vars = local.stage_env
    use_env_var_file = true
    remote_folder    = local.remote_stages
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
