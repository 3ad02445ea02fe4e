#!/usr/bin/env bash
# image-build/scripts/convert.sh ARCH DIR NAME — Packer's post-processor: from DIR/NAME.qcow2
# (compressed qcow2, Proxmox/KVM/libvirt) make, next to it,
#   NAME.raw   raw disk (dd to a disk, cloud imports)             — sparse file
#   NAME.vmdk  VMDK streamOptimized (VMware, VirtualBox)
#   NAME.ova   OVF 1.0 package: NAME.ovf + NAME.vmdk + NAME.mf (SHA256), tar with the .ovf first
#   SHA256SUMS of all of them
# The OVA describes 2 vCPUs, 2 GiB RAM, one SATA disk and one E1000 NIC on "VM Network"; the
# disk boots under BIOS and UEFI (amd64). For arm64 only qcow2/raw/vmdk are made (no OVF consumer
# runs arm64 guests from OVA in practice).
set -euo pipefail
ARCH=${1:?usage: convert.sh ARCH DIR NAME}
DIR=${2:?}
NAME=${3:?}
cd "$DIR"
[ -s "$NAME.qcow2" ] || { echo "convert.sh: $DIR/$NAME.qcow2 missing" >&2; exit 1; }
rm -f "$NAME.raw" "$NAME.vmdk" "$NAME.ova" "$NAME.ovf" "$NAME.mf" SHA256SUMS
qemu-img convert -O raw "$NAME.qcow2" "$NAME.raw"
qemu-img convert -O vmdk -o subformat=streamOptimized "$NAME.qcow2" "$NAME.vmdk"
OUTPUTS=("$NAME.qcow2" "$NAME.raw" "$NAME.vmdk")

if [ "$ARCH" = amd64 ]; then
  CAPACITY=$(qemu-img info --output=json "$NAME.qcow2" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -n1)
  VMDK_SIZE=$(stat -c %s "$NAME.vmdk")
  cat > "$NAME.ovf" <<OVF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="$NAME.vmdk" ovf:id="file1" ovf:size="$VMDK_SIZE"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:capacity="$CAPACITY" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1"
      ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks</Info>
    <Network ovf:name="VM Network"><Description>The network the gateway receives and sends mail on</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="$NAME">
    <Info>TuxHat Edge Gateway appliance</Info>
    <Name>$NAME</Name>
    <OperatingSystemSection ovf:id="96">
      <Info>Debian 12 (64-bit)</Info>
      <Description>Debian GNU/Linux 12 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>2 vCPUs, 2 GiB RAM, one SATA disk, one network adapter</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>$NAME</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>2 virtual CPUs</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory size</rasd:Description>
        <rasd:ElementName>2048 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>2048</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SATA controller</rasd:Description>
        <rasd:ElementName>SATA controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType>
        <rasd:ResourceType>20</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
OVF
  {
    echo "SHA256($NAME.ovf)= $(sha256sum "$NAME.ovf" | cut -d' ' -f1)"
    echo "SHA256($NAME.vmdk)= $(sha256sum "$NAME.vmdk" | cut -d' ' -f1)"
  } > "$NAME.mf"
  tar --format=ustar --owner=0 --group=0 -cf "$NAME.ova" "$NAME.ovf" "$NAME.vmdk" "$NAME.mf"
  rm -f "$NAME.ovf" "$NAME.mf"
  OUTPUTS+=("$NAME.ova")
fi
sha256sum "${OUTPUTS[@]}" > SHA256SUMS
ls -ls "${OUTPUTS[@]}"
