"""Train the demo model with runyard's tracker: `python -m demo.train configs/small.yaml [--key=value ...]`.

Logs train loss, validation loss, learning rate and tokens/s against step and time, samples text, and keeps
checkpoints with a best-by-validation-loss policy. Resume with `--resume=<run folder>`.
"""

from __future__ import annotations

import math
import sys
import time

import torch

import runyard

from .data import CharData, corpus
from .model import CharGPT


def lr_at(step: int, cfg: dict) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak."""
    peak, warmup, total = cfg["learning_rate"], cfg["warmup_steps"], cfg["max_steps"]
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model: CharGPT, data: CharData, cfg: dict, gen: torch.Generator) -> dict[str, float]:
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = [model(*data.batch(split, cfg["batch_size"], cfg["block_size"], gen))[1].item()
                  for _ in range(cfg["eval_batches"])]
        out[f"{split}/eval_loss" if split == "train" else "val/loss"] = sum(losses) / len(losses)
    model.train()
    return out


def train(run) -> None:
    cfg = run.config
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg.get("threads", 1))
    gen = torch.Generator().manual_seed(cfg["seed"])
    data = CharData(corpus())
    model = CharGPT(data.vocab_size, cfg["block_size"], cfg["n_layer"], cfg["n_head"], cfg["n_embd"],
                    cfg["dropout"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["learning_rate"], weight_decay=cfg["weight_decay"])
    start = 0
    if run.latest_checkpoint is not None:
        state = torch.load(run.latest_checkpoint, weights_only=True)  # our own file, written by this script
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = state["step"] + 1
        run.logger.info("resumed from %s", run.latest_checkpoint)
    params = sum(p.numel() for p in model.parameters())
    run.logger.info("model: %.2fM parameters, vocab %d, %d training characters",
                    params / 1e6, data.vocab_size, len(data.train))
    tokens = cfg["batch_size"] * cfg["block_size"]
    tick = time.perf_counter()
    for step in range(start, cfg["max_steps"] + 1):
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = data.batch("train", cfg["batch_size"], cfg["block_size"], gen)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        if step % cfg["log_interval"] == 0:
            now = time.perf_counter()
            rate = tokens * (cfg["log_interval"] if step > start else 1) / max(now - tick, 1e-9)
            tick = now
            run.log({"train/loss": loss, "lr": lr, "tokens_per_sec": rate}, step=step)
        if step % cfg["eval_interval"] == 0 or step == cfg["max_steps"]:
            scores = evaluate(model, data, cfg, gen)
            run.log(scores, step=step)
            run.logger.info("step %d: train loss %.4f, val loss %.4f", step, scores["train/eval_loss"],
                            scores["val/loss"])
            state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}
            run.save_checkpoint(state, step=step, metrics=scores, best=("val/loss", "min"),
                                keep_last=cfg["keep_checkpoints"])
        if step % cfg["sample_interval"] == 0 and step > 0:
            prompt = cfg["sample_prompt"]
            idx = torch.tensor([data.encode(prompt)])
            text = data.decode(model.generate(idx, cfg["sample_chars"], 0.8, gen)[0])
            run.log_sample(text, step=step, prompt=prompt)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = next((a.split("=", 1)[1] for a in argv if a.startswith("--resume=")), None)
    argv = [a for a in argv if not a.startswith("--resume=")]
    root = next((a.split("=", 1)[1] for a in argv if a.startswith("--root=")), "runs")
    argv = [a for a in argv if not a.startswith("--root=")]
    try:
        run = runyard.init(argv=argv, root=root, resume=resume, tags=("demo",))
    except runyard.TrackerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with run:
        train(run)
    print(f"run folder: {run.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
