# Pullbox: boot-check the image that `make image` built, with Packer 1.6.6
# (Debian's, offline: run with CHECKPOINT_DISABLE=1). Packer never builds the
# software: the Makefile is the single source of truth for what is in the
# image. This template boots the raw disk headless on the OVF's hardware
# (pc, IDE, e1000), probes it from outside over 127.0.0.1-only forwards,
# presses the ACPI power button, then re-runs the same post-processing as
# `make` (appliance/scripts/mkformats.sh, mkova.sh) on the pristine raw image
# and checks that it gives the very same qcow2 and OVA bytes. The disk Packer
# booted holds that boot's keys: it is deleted, never shipped.
#
#   CHECKPOINT_DISABLE=1 PACKER_CACHE_DIR=out/packer_cache packer build -var version=$(cat VERSION) \
#       -var source_date_epoch=<as make used> packer/pullbox.pkr.hcl
# (from the top of the tree; `make packer-check` does exactly this)
# HCL2 as Packer 1.6 reads it: no packer {} block, no required_plugins.

variable "version" {
  type    = string
  default = "0.2.0"
}

variable "images_dir" {
  type    = string
  default = "out/images"
}

variable "output_dir" {
  type    = string
  default = "out/packer"
}

variable "source_date_epoch" {
  type    = string
  default = "1700000000"
}

variable "accelerator" {
  type    = string
  default = "tcg"
}

variable "port_base" {
  type    = number
  default = 28000
}

locals {
  raw     = "${var.images_dir}/pullbox-${var.version}.raw"
  monitor = "${var.output_dir}.monitor"
  fwd = join(",", [
    "hostfwd=tcp:127.0.0.1:${var.port_base + 443}-:443",
    "hostfwd=tcp:127.0.0.1:${var.port_base + 22}-:22",
    "hostfwd=tcp:127.0.0.1:${var.port_base + 893}-:8893",
    "hostfwd=tcp:127.0.0.1:${var.port_base + 894}-:8894",
  ])
}

source "qemu" "pullbox" {
  iso_url          = local.raw
  iso_checksum     = "none"
  disk_image       = true
  use_backing_file = false
  format           = "raw"
  output_directory = var.output_dir
  vm_name          = "pullbox-${var.version}.raw"
  accelerator      = var.accelerator
  machine_type     = "pc"
  disk_interface   = "ide"
  net_device       = "e1000"
  memory           = 1024
  cpus             = 2
  headless         = true
  vnc_bind_address = "127.0.0.1"
  communicator     = "none"
  boot_wait        = "1s"
  shutdown_timeout = "5m"
  qemuargs = [
    ["-netdev", "user,id=user.0,restrict=on,${local.fwd}"],
    ["-monitor", "unix:${local.monitor},server,nowait"],
    ["-serial", "file:${var.output_dir}.serial.log"],
  ]
}

build {
  sources = ["source.qemu.pullbox"]

  # Probe from outside, then press the power button (acpid powers off).
  provisioner "shell-local" {
    environment_vars = [
      "PORT_BASE=${var.port_base}",
      "MONITOR=${local.monitor}",
      "SERIAL=${var.output_dir}.serial.log",
    ]
    script = "packer/probe.sh"
  }

  # The same post-processing as `make image`, on the image make built (not on
  # the booted disk, which now holds keys): the outputs must be identical.
  post-processor "shell-local" {
    environment_vars = ["SOURCE_DATE_EPOCH=${var.source_date_epoch}"]
    inline = [
      "rm -f ${var.output_dir}/pullbox-${var.version}.raw",
      "appliance/scripts/mkformats.sh ${local.raw} ${var.output_dir}/pullbox-${var.version}.qcow2",
      "appliance/scripts/mkova.sh ${local.raw} pullbox-${var.version} ${var.version} ${var.output_dir}/pullbox-${var.version}.ova",
      "cmp ${var.output_dir}/pullbox-${var.version}.qcow2 ${var.images_dir}/pullbox-${var.version}.qcow2",
      "cmp ${var.output_dir}/pullbox-${var.version}.ova ${var.images_dir}/pullbox-${var.version}.ova",
      "echo 'packer: post-processing reproduced the qcow2 and the OVA of make bit for bit'",
    ]
  }
}
