"""A process killed in the middle of writing a checkpoint leaves no truncated checkpoint behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from ignite.engine import Engine

from monai_weakloc.engines.checkpoint import AtomicCheckpointSaver, latest_checkpoint

# trains a linear model for 2 epochs of 3 iterations, saving every iteration; the third save writes a few
# bytes of the checkpoint and then the process kills itself with SIGKILL (no cleanup code can run)
TRAIN_AND_DIE_WHILE_SAVING = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from torch import nn
    from monai.engines import SupervisedTrainer
    from monai_weakloc.engines.checkpoint import AtomicCheckpointSaver

    network = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    data = [{"image": torch.randn(4), "label": torch.tensor(i % 2)} for i in range(6)]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=2, network=network, optimizer=optimizer,
        train_data_loader=torch.utils.data.DataLoader(data, batch_size=2), loss_function=nn.CrossEntropyLoss(),
    )
    AtomicCheckpointSaver(sys.argv[1], {"network": network, "optimizer": optimizer}, save_every=1, n_saved=5).attach(trainer)
    real_save = torch.save
    saves = []

    def save_then_die_on_the_third(obj, stream, *args, **kwargs):
        saves.append(1)
        if len(saves) == 3:
            stream.write(b"PK truncated")
            stream.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        real_save(obj, stream, *args, **kwargs)

    torch.save = save_then_die_on_the_third
    trainer.run()
    """
)


@pytest.mark.slow
def test_kill_during_a_save_keeps_every_visible_checkpoint_loadable(tmp_path):
    ckpt_dir = tmp_path / "models"
    script = tmp_path / "train_and_die.py"
    script.write_text(TRAIN_AND_DIE_WHILE_SAVING)
    done = subprocess.run([sys.executable, str(script), str(ckpt_dir)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr

    visible = sorted(p.name for p in ckpt_dir.iterdir() if not p.name.startswith("."))
    assert visible == ["checkpoint_1.pt", "checkpoint_2.pt"]
    for name in visible:
        assert torch.load(ckpt_dir / name, weights_only=True)["trainer"]["iteration"] == int(name[11:-3])
    assert sorted(p.name for p in ckpt_dir.iterdir() if p.name.startswith(".")) == [".checkpoint_3.pt.tmp"]
    assert latest_checkpoint(ckpt_dir).name == "checkpoint_2.pt"

    # the next run removes the partial file of the killed one
    AtomicCheckpointSaver(ckpt_dir, {}).attach(Engine(lambda engine, batch: None))
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["checkpoint_1.pt", "checkpoint_2.pt"]
