"""Training data: manifests (below, the package's face: `from degram_core import data;
data.read_manifest(...)`), the dataset that reads them, random-length crops, balanced
epochs, and waveform augmentation (mixing)."""
from .manifests import (Item, from_esc, from_folder, from_fsdd, from_speechocean762,
                        from_vggsound, from_voxceleb1, read_manifest, select, write_manifest)

__all__ = ["Item", "from_esc", "from_folder", "from_fsdd", "from_speechocean762",
           "from_vggsound", "from_voxceleb1", "read_manifest", "select", "write_manifest"]
