"""The generated design's memory, from the simulator's memory policy and tile plans.

Every tensor the policy puts in DRAM is an `m_axi` argument of the top function (the network's
inputs and outputs, spilled activations, streamed weights); every on-chip tensor is a buffer
(a `bram` port for a preloaded network input).  A layer's DRAM inputs are loaded into staging
buffers before it runs (the simulator's tile 0 loads them first); a MAC layer loads its weight
tiles and writes its output tiles itself (`_macros.j2: mac_tiles`); a non-MAC layer's DRAM
output is staged whole and written after it.  The resources table adds up the same buffers.
"""
from __future__ import annotations

from typing import Any

from fpga_sim.errors import ConfigError
from fpga_sim.memory_policy import resolve, tensor_place
from fpga_sim.tiling import word_bytes

MAC_OPS = ("Conv", "Dense")


def check_implementable(hw: Any) -> None:
    """Options the simulator costs but the generated kernels do not build are refused, so the
    project never describes another machine than the report."""
    for name in ("skip_zero_weights", "weights_as_codebook"):
        if getattr(hw, name):
            raise ConfigError(f"hardware {name}=true is costed by the simulator only; the generated kernels store and "
                              f"multiply every weight, so HLS generation needs {name}=false")


def mac_memory(layer_report: Any, spec: Any, storage: Any, n_rows: int) -> dict[str, Any]:
    """The tile-loop values a MAC template renders, from the layer's simulated tile plan."""
    m = layer_report.memory
    if m.get("input_restreamed") or m.get("output_streamed"):
        raise ConfigError(f"layer {layer_report.name!r}: its DRAM input or one channel's outputs do not fit the tile SRAM, "
                          f"so the simulator streams them; HLS generation needs them staged in the SRAM: raise sram_bytes or "
                          f"keep the activations on chip (activations = \"on_chip\")")
    w_raw = next(raw for role, raw, _ in spec.params if role == "weight")
    w_t = next(t for role, _, t in spec.params if role == "weight")
    b_t = next(t for role, _, t in spec.params if role == "bias")
    cout = int(m["channels"])
    has_bias = any(c[0] == "has_bias" and c[2] for c in spec.consts)
    return {"tiles": int(m["tiles"]), "ct": int(m["channels_per_tile"]), "cout": cout,
            "plane": int(layer_report.outputs) // cout, "bufs": int(m["buffers"]), "db": int(m["buffers"]) == 2,
            "n_k": int(w_raw.size) // cout, "has_bias": has_bias,
            "weights_dram": m["weights"] == "dram", "out_dram": m["output"] == "dram",
            "wstore": storage(w_t), "bstore": storage(b_t), "rows": n_rows if n_rows > 1 else 0}


def aliases(acc_nodes: list, reports: dict[str, Any], places: dict[str, str]) -> dict[str, str]:
    """Outputs of layers the simulator calls a free layout change ("no data moved"), mapped to
    the tensor whose storage they share; only where both live in the same place."""
    alias: dict[str, str] = {}
    for n in acc_nodes:
        r = reports.get(n.name)
        if r is not None and r.bound == "layout" and len(n.inputs) == 1 and len(n.outputs) == 1:
            src = alias.get(n.inputs[0], n.inputs[0])
            if places[src] == places[n.outputs[0]]:
                alias[n.outputs[0]] = src
    return alias


def plumbing(qg: Any, hw: Any, tensors: dict[str, dict[str, Any]], acc_nodes: list, top_in: list[str],
             top_out: list[str], reports: dict[str, Any]) -> dict[str, Any]:
    """Top arguments, on-chip buffers and where each tensor is reached from (C expressions)."""
    pol = resolve(qg, hw)
    places = {t: tensor_place(qg, hw, t) for t in tensors}
    alias = aliases(acc_nodes, reports, places)
    args, where, buffers = [], {}, []
    for j, t in enumerate(top_in):
        info = tensors[t]
        iface = "m_axi" if places[t] == "dram" else "bram"
        args.append({**info, "name": info["port"], "const": True, "iface": iface, "bundle": f"gmem_in{j}",
                     "role": "input"})
        where[t] = info["port"]
    for j, t in enumerate(top_out):
        info = tensors[t]
        args.append({**info, "name": info["port"], "const": False, "iface": "m_axi", "bundle": f"gmem_out{j}",
                     "role": "output"})
        where[t] = info["port"]
    for t, src in alias.items():
        if t in where:       # a renamed network output: the source's producer writes that port
            where[src] = where[t]
    for t, info in tensors.items():
        if t in where or t in alias:
            continue
        if places[t] == "dram":
            name = "dram_" + info["id"]
            args.append({**info, "name": name, "const": False, "iface": "m_axi", "bundle": "gmem_act",
                         "role": "activation"})
            where[t] = name
        else:
            nbytes = word_bytes(info["size"], qg.tensor_types[t].width)
            buffers.append({**info, "impl": "bram" if nbytes > 1024 else "lutram", "bytes": nbytes})
            where[t] = info["buf"]
    for t, src in alias.items():
        if t not in where:
            where[t] = where[src]
    return {"args": args, "where": where, "places": places, "buffers": buffers, "policy": pol, "alias": alias}


def layer_calls(layer: dict[str, Any], node: Any, places: dict[str, str], where: dict[str, str],
                is_mac: bool, alias: dict[str, str]) -> None:
    """Staging buffers and call arguments of one layer, added to its context."""
    layer["alias"] = all(t in alias for t in node.outputs)
    if layer["alias"]:    # no call: the output is the input's storage, as the simulator costs it
        layer.update(stage_in=[], stage_out=[], call_args=[])
        return
    stage_in, call_in = [], []
    for j, t in enumerate(node.inputs):
        info = layer["inputs"][j]
        if places[t] == "dram":
            name = f"stage{layer['index']}_in{j}"
            stage_in.append({"name": name, "type": info["type"], "n": info["size"], "src": where[t]})
            call_in.append(name)
        else:
            call_in.append(where[t])
    stage_out, call_out = [], []
    for j, t in enumerate(node.outputs):
        info = layer["outputs"][j]
        if places[t] == "dram" and not is_mac:
            name = f"stage{layer['index']}_out{j}"
            stage_out.append({"name": name, "type": info["type"], "n": info["size"], "dst": where[t]})
            call_out.append(name)
        else:
            call_out.append(where[t])
    layer.update(stage_in=stage_in, stage_out=stage_out, call_args=call_in + call_out)


def resources(ctx: dict[str, Any], hw: Any, reports: dict[str, Any]) -> dict[str, Any]:
    """DSPs and on-chip bytes of the generated design beside the part's budget."""
    part = hw.part_info
    rom = sum(p["count"] * ((p["bits"] + 7) // 8) for p in ctx["params"] if p["on_chip"])
    tables = sum(p["count"] * ((p["bits"] + 7) // 8) for layer in ctx["layers"] if layer["op"] not in MAC_OPS
                 for p in layer["params"])
    act = sum(b["bytes"] for b in ctx["buffers"])
    pre = sum(word_bytes(a["size"], a["width"]) for a in ctx["top_args"] if a["iface"] == "bram")
    tiles, dsps, tile_max = 0, 0, 0
    for layer in ctx["layers"]:
        rep = reports.get(layer["key"])
        if rep is None:
            continue
        used = int(rep.memory.get("sram_bytes_used", 0))
        tiles += used
        tile_max = max(tile_max, used)
        if layer["op"] in MAC_OPS:
            dsps += int(rep.multipliers) * layer["dsps_per_mult"]
    total = rom + act + pre + tiles
    return {
        "part": part.name, "dsp_used": dsps, "dsp_budget": part.dsp_slices, "dsp_array_simulated": hw.n_dsp,
        "weight_rom_bytes": rom, "table_rom_bytes": tables, "table_rom_bytes_simulated": ctx["policy"]["rom_bytes"],
        "activation_buffer_bytes": act, "preloaded_input_bytes": pre,
        "tile_buffer_bytes": tiles, "tile_buffer_bytes_largest_layer": tile_max, "sram_bytes": hw.sram_bytes,
        "onchip_bytes_used": total, "onchip_bytes_budget": part.onchip_bytes,
        "bram_bits_used": 8 * total, "bram_bits_budget": 8 * part.onchip_bytes,
        "fits": dsps <= part.dsp_slices and total <= part.onchip_bytes,
        "note": ("the simulator's one MAC array has n_dsp DSPs; the generated design gives each MAC layer its own "
                 "multipliers (HLS does not share them across layer functions), and each layer its own tile "
                 "buffers (the simulator's tile SRAM is the largest layer's)"),
    }
