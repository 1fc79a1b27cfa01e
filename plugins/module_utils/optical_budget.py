"""Light budget of a border link tapped by a passive optical tap (plain Python, no Ansible imports).

A passive tap splits the light of each direction between the network leg (the live link, which must
keep working) and the monitor leg (towards the tap aggregator). Both legs must still deliver enough
light to their receiver:

    received = tx_min - tap_leg_loss - fibre_km x loss_per_km - connectors x connector_loss - splices x splice_loss
    margin   = received - rx_min                       (must be >= margin_db, the design margin)

The transceiver figures are IEEE 802.3's worst-case per-lane values (minimum average launch power,
minimum average receive power); a site can override them with its optics' datasheet values. The
tap's insertion loss per leg is the ideal split loss plus an excess loss (default 0.6 dB, a typical
datasheet figure for fused single-mode taps), or the datasheet's per-leg figures.

Inventory, per link (``soc_links`` entry with ``tap: optical``)::

    optics:
      transceiver: 100GBASE-LR4      # a name of TRANSCEIVERS, or give tx_min_dbm + rx_min_dbm
      split: 70/30                   # network/monitor percentages
      fibre_km: 2.0                  # longest fibre run on a leg (router -> tap -> receiver)
      connectors: 4                  # mated connector pairs on that path
      splices: 2
      margin_db: 3.0                 # optional, default 3 dB
      # optional: tx_min_dbm, rx_min_dbm, fibre_loss_db_per_km, connector_loss_db, splice_loss_db,
      #           tap_loss_db: {network: 1.9, monitor: 6.0}, excess_loss_db
"""

from __future__ import annotations

import math

# IEEE 802.3 worst-case figures per lane: minimum average launch power and minimum average receive
# power (dBm), and the fibre attenuation the standard's channel budget assumes (dB/km).
TRANSCEIVERS = {
    # clause 52 (10GBASE-S/L): 850 nm multimode, 1310 nm single-mode
    "10GBASE-SR": {"tx_min_dbm": -7.3, "rx_min_dbm": -9.9, "fibre_loss_db_per_km": 3.5},
    "10GBASE-LR": {"tx_min_dbm": -8.2, "rx_min_dbm": -14.4, "fibre_loss_db_per_km": 0.4},
    # clause 88 (100GBASE-LR4, 4 lanes around 1310 nm), clause 95 (100GBASE-SR4, 850 nm)
    "100GBASE-LR4": {"tx_min_dbm": -4.3, "rx_min_dbm": -10.6, "fibre_loss_db_per_km": 0.4},
    "100GBASE-SR4": {"tx_min_dbm": -8.4, "rx_min_dbm": -10.3, "fibre_loss_db_per_km": 3.5},
}
SPLITS = ("50/50", "60/40", "70/30", "80/20", "90/10")
DEFAULTS = {
    "connector_loss_db": 0.5,  # TIA-568 allows 0.75 per mated pair; 0.5 is a common design value
    "splice_loss_db": 0.1,
    "excess_loss_db": 0.6,
    "margin_db": 3.0,
}
KNOWN_KEYS = {
    "transceiver",
    "split",
    "fibre_km",
    "connectors",
    "splices",
    "margin_db",
    "tx_min_dbm",
    "rx_min_dbm",
    "fibre_loss_db_per_km",
    "connector_loss_db",
    "splice_loss_db",
    "tap_loss_db",
    "excess_loss_db",
}


class OpticsError(ValueError):
    """Malformed optics settings of a link (the message names the link and the field)."""


def _number(value, where: str, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise OpticsError(f"{where}: {value!r} is not a number") from None
    value = float(value)
    if math.isnan(value) or (minimum is not None and value < minimum):
        raise OpticsError(f"{where}: {value} must be a number >= {minimum}")
    return value


def split_shares(split, where: str) -> tuple[float, float]:
    """'70/30' -> (0.7, 0.3): the network and monitor shares of the light."""
    text = str(split).replace(" ", "")
    parts = text.split("/")
    if len(parts) != 2:
        raise OpticsError(f"{where}: split {split!r} is not network/monitor percentages like 70/30")
    network, monitor = (_number(p, where, minimum=1.0) for p in parts)
    if abs(network + monitor - 100.0) > 1e-6:
        raise OpticsError(f"{where}: split {split!r} does not add up to 100")
    return network / 100.0, monitor / 100.0


def tap_leg_loss(share: float, excess_loss_db: float) -> float:
    """Insertion loss (dB) of a leg that gets `share` of the light: the ideal split plus excess loss."""
    return -10.0 * math.log10(share) + excess_loss_db


def link_budget(link: dict) -> dict:
    """Both legs' light budget of one optically tapped link.

    Returns {link, transceiver, split, legs: {network: {...}, monitor: {...}}, ok} where each leg has
    tap_loss_db, path_loss_db, received_dbm, rx_min_dbm, margin_db, required_margin_db, short_db.
    Raises OpticsError on malformed settings.
    """
    name = link.get("name", "?")
    where = f"soc_links[{name}].optics"
    optics = link.get("optics")
    if not isinstance(optics, dict):
        raise OpticsError(f"{where}: an optical tap needs an optics mapping (transceiver, split, fibre_km, ...)")
    unknown = sorted(set(optics) - KNOWN_KEYS)
    if unknown:
        raise OpticsError(f"{where}: unknown keys {unknown} (known: {sorted(KNOWN_KEYS)})")
    model = optics.get("transceiver")
    base = {}
    if model is not None:
        if model not in TRANSCEIVERS:
            raise OpticsError(
                f"{where}.transceiver: {model!r} is not in the catalogue ({', '.join(sorted(TRANSCEIVERS))}); "
                "give tx_min_dbm and rx_min_dbm from its datasheet instead"
            )
        base = dict(TRANSCEIVERS[model])
    for key in ("tx_min_dbm", "rx_min_dbm", "fibre_loss_db_per_km"):
        if key in optics:
            base[key] = _number(optics[key], f"{where}.{key}", minimum=None if key.endswith("dbm") else 0.0)
        elif key not in base:
            raise OpticsError(f"{where}.{key}: needed (no transceiver from the catalogue gives it)")
    settings = {k: _number(optics.get(k, v), f"{where}.{k}") for k, v in DEFAULTS.items()}
    fibre_km = _number(optics.get("fibre_km", 0), f"{where}.fibre_km")
    connectors = _number(optics.get("connectors", 2), f"{where}.connectors")
    splices = _number(optics.get("splices", 0), f"{where}.splices")
    split = optics.get("split", "50/50")
    shares = dict(zip(("network", "monitor"), split_shares(split, f"{where}.split"), strict=True))
    explicit = optics.get("tap_loss_db") or {}
    if not isinstance(explicit, dict) or set(explicit) - {"network", "monitor"}:
        raise OpticsError(f"{where}.tap_loss_db: a mapping with network and/or monitor (dB)")

    path_loss = (
        fibre_km * base["fibre_loss_db_per_km"]
        + connectors * settings["connector_loss_db"]
        + splices * settings["splice_loss_db"]
    )
    legs = {}
    for leg, share in shares.items():
        if leg in explicit:
            tap_loss = _number(explicit[leg], f"{where}.tap_loss_db.{leg}")
        else:
            tap_loss = tap_leg_loss(share, settings["excess_loss_db"])
        received = base["tx_min_dbm"] - tap_loss - path_loss
        margin = received - base["rx_min_dbm"]
        short = max(0.0, settings["margin_db"] - margin)
        legs[leg] = {
            "tap_loss_db": round(tap_loss, 2),
            "path_loss_db": round(path_loss, 2),
            "received_dbm": round(received, 2),
            "rx_min_dbm": base["rx_min_dbm"],
            "margin_db": round(margin, 2),
            "required_margin_db": settings["margin_db"],
            "short_db": round(short, 2),
        }
    return {
        "link": name,
        "transceiver": model or "datasheet figures",
        "split": str(split),
        "legs": legs,
        "ok": all(leg["short_db"] == 0 for leg in legs.values()),
    }


def budget_errors(links) -> tuple[list[str], list[dict]]:
    """Light-budget errors for every optically tapped link (one message per short leg, naming the
    link, the leg and the dB short) and the per-link budgets for the plan report."""
    errors, budgets = [], []
    for link in links or []:
        if not isinstance(link, dict) or link.get("tap") != "optical" or "optics" not in link:
            continue
        try:
            budget = link_budget(link)
        except OpticsError as exc:
            errors.append(str(exc))
            continue
        budgets.append(budget)
        for leg, b in budget["legs"].items():
            if b["short_db"] > 0:
                errors.append(
                    f"link {budget['link']}: the {leg} leg of its {budget['split']} optical tap receives "
                    f"{b['received_dbm']:.1f} dBm ({budget['transceiver']} needs {b['rx_min_dbm']:.1f} dBm "
                    f"+ {b['required_margin_db']:.1f} dB margin): short by {b['short_db']:.1f} dB "
                    f"(tap {b['tap_loss_db']:.1f} dB, fibre/connectors/splices {b['path_loss_db']:.1f} dB)"
                )
    return errors, budgets
