// TsmLab: an executable, byte-exact model of the confidential-device-assignment path
// (guest -> VMM -> iommufd/TSM -> platform TSM firmware -> TDISP device).
