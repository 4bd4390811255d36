"""How much of a small LoRA update survives the merge into bf16 weights (issue 19 item 3).

One Qwen2-VL-2B-sized projection (1536 x 1536, bf16, N(0, 0.02) like Qwen2's initializer), LoRA
r=64, alpha=128 (the paper recipes'), A as peft initialises it, B after k Adam steps at the paper's
learning rate 1e-5 (each entry moved by about lr per step, the same sign: k x lr x +-1). For each k:

- changed: the share of merged entries that differ from the base weight (what vLLM sees move),
  for the merge before (the float32 delta cast to bf16, then added in bf16: two roundings) and
  now (W + B A s summed in float32, cast once: vsgrpo.models.loading.merged_weight);
- off: the share of merged entries that differ from the correctly rounded bf16 of the exact
  W + B A s (computed in float64).

    python benchmarks/bench_lora_merge.py [--steps 1,10,100] [--lr 1e-5]
"""

from __future__ import annotations

import argparse


def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from vsgrpo.train.vllm_rollout import policy_weights

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="1,10,100")
    ap.add_argument("--lr", type=float, default=1e-5)
    args = ap.parse_args()
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("proj", torch.nn.Linear(1536, 1536, bias=False))
    torch.nn.init.normal_(net.proj.weight, std=0.02)
    model = get_peft_model(net.to(torch.bfloat16), LoraConfig(r=64, lora_alpha=128, target_modules=["proj"]))
    layer = model.base_model.model.proj
    base = layer.base_layer.weight.detach().clone()
    sign = torch.randint(0, 2, (1536, 64), generator=torch.Generator().manual_seed(1)).float() * 2 - 1
    print("| Adam steps at lr %g | changed entries, bf16 merge (before) | changed, float32 merge (now) | "
          "off the correctly rounded sum, before / now |" % args.lr)
    print("|---|---|---|---|")
    for k in (int(x) for x in args.steps.split(",")):
        with torch.no_grad():
            layer.lora_B["default"].weight.copy_(sign * k * args.lr)
        exact = (base.double() + (layer.lora_B["default"].weight.double() @ layer.lora_A["default"].weight.double())
                 * layer.scaling["default"]).to(torch.bfloat16)
        before = base + layer.get_delta_weight("default").to(torch.bfloat16)
        now = dict(policy_weights(model))["proj.weight"]
        share = lambda x: 100 * x.float().mean().item()  # noqa: E731
        print(f"| {k} | {share(before != base):.2f}% | {share(now != base):.2f}% | "
              f"{share(before != exact):.3f}% / {share(now != exact):.4f}% |")


if __name__ == "__main__":
    main()
