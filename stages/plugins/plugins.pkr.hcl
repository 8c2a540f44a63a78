# Plugin requirement for Packer >= 1.7 (1.10+ no longer bundles the openstack builder).
# Kept out of stages/ on purpose: Packer 1.6.6 rejects `packer { required_plugins }`.
#   packer init stages/plugins
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    openstack = {
      source  = "github.com/hashicorp/openstack"
      version = ">= 1.1.2"
    }
  }
}
