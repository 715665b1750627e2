"""`kinject run CONFIG` under torchrun, recording every mask the masked objective draws.

usage: torchrun --nproc_per_node N tests/scripts/multiprocess_run.py CONFIG OUT_DIR
writes OUT_DIR/masks_{rank}.json: [{"seed", "input_ids", "masked"}] per micro-batch.
"""

import json
import os
import sys
from pathlib import Path

from kinject.cli import main
from kinject.objectives.masked import MaskedObjective

records = []
real_corrupt = MaskedObjective.corrupt


def recording_corrupt(self, batch, generator):
    seed = generator.initial_seed()
    corrupted, stats = real_corrupt(self, batch, generator)
    records.append({"seed": seed, "input_ids": batch["input_ids"].tolist(),
                    "masked": (corrupted["input_ids"] == self.mask_id).tolist()})
    return corrupted, stats


MaskedObjective.corrupt = recording_corrupt
code = main(["run", sys.argv[1]])
Path(sys.argv[2], f"masks_{os.environ.get('RANK', '0')}.json").write_text(json.dumps(records))
sys.exit(code)
