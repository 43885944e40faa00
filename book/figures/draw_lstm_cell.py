"""Draw the LSTM cell diagram of the LSTM chapter, one gate at a time.

One layout, four stages: the memory line alone, then the forget gate, then the
input gate with the candidate memory, then the output gate. Each stage draws
the parts of the previous ones in grey and its own part in colour, so the
reader sees the same picture grow. Run it to rewrite the four SVG files next
to it:

    .venv/bin/python book/figures/draw_lstm_cell.py
"""

from pathlib import Path

WIDTH, HEIGHT = 640, 360
MEMORY_Y, BUS_Y = 80, 290  # the cell-state line at the top, the h_{t-1}/x_t bus at the bottom
OLD, MEMORY = "#555555", "#c8900c"
COLOURS = {"forget": "#c0392b", "input": "#1e8449", "output": "#2471a3"}
STAGES = ("memory", "forget", "input", "output")


def subscripted(x, y, base, sub, colour, anchor="start", size=17):
    return (f'<text x="{x}" y="{y}" fill="{colour}" font-size="{size}" text-anchor="{anchor}" '
            f'font-style="italic">{base}<tspan dy="5" font-size="{size * 0.7:.0f}">{sub}</tspan></text>')


def line(points, colour, width=2.5, arrow=True):
    path = " ".join(f"{x},{y}" for x, y in points)
    end = f' marker-end="url(#arrow-{colour[1:]})"' if arrow else ""
    return f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}"{end}/>'


def box(cx, cy, label, colour):
    return (f'<rect x="{cx - 22}" y="{cy - 15}" width="44" height="30" rx="5" fill="white" stroke="{colour}" stroke-width="2.5"/>'
            f'<text x="{cx}" y="{cy + 6}" fill="{colour}" font-size="16" text-anchor="middle">{label}</text>')


def operator(cx, cy, symbol, colour):
    return (f'<circle cx="{cx}" cy="{cy}" r="12" fill="white" stroke="{colour}" stroke-width="2.5"/>'
            f'<text x="{cx}" y="{cy + 6}" fill="{colour}" font-size="18" text-anchor="middle">{symbol}</text>')


def memory_line():
    return [line([(0, MEMORY_Y), (WIDTH - 4, MEMORY_Y)], MEMORY, width=5),
            subscripted(8, MEMORY_Y - 12, "c", "t−1", MEMORY),
            subscripted(WIDTH - 16, MEMORY_Y - 12, "c", "t", MEMORY, anchor="end"),
            line([(0, BUS_Y), (150, BUS_Y)], OLD, arrow=False),
            line([(150, HEIGHT), (150, BUS_Y)], OLD, arrow=False),
            subscripted(8, BUS_Y - 10, "h", "t−1", OLD),
            subscripted(160, HEIGHT - 10, "x", "t", OLD)]


def forget_gate(c):
    return [line([(150, BUS_Y), (200, BUS_Y), (200, 230)], c),
            box(200, 215, "σ", c),
            line([(200, 200), (200, MEMORY_Y + 14)], c),
            subscripted(208, 160, "f", "t", c),
            operator(200, MEMORY_Y, "×", c)]


def input_gate(c):
    return [line([(200, BUS_Y), (350, BUS_Y), (350, 230)], c),
            line([(270, BUS_Y), (270, 230)], c),
            box(270, 215, "σ", c), box(350, 215, "tanh", c),
            line([(270, 200), (270, 150), (296, 150)], c),
            line([(350, 200), (350, 150), (324, 150)], c),
            subscripted(238, 180, "i", "t", c), subscripted(358, 180, "c̃", "t", c),
            line([(310, 138), (310, MEMORY_Y + 14)], c),
            operator(310, 150, "×", c), operator(310, MEMORY_Y, "+", c)]


def output_gate(c):
    return [line([(350, BUS_Y), (430, BUS_Y), (430, 230)], c),
            box(430, 215, "σ", c),
            line([(452, 215), (512, 215)], c),
            subscripted(458, 240, "o", "t", c),
            line([(530, MEMORY_Y), (530, 133)], c),
            box(530, 150, "tanh", c),
            line([(530, 165), (530, 201)], c),
            operator(530, 215, "×", c),
            line([(530, 227), (530, BUS_Y), (WIDTH - 4, BUS_Y)], c),
            subscripted(WIDTH - 16, BUS_Y - 10, "h", "t", c, anchor="end")]


PARTS = {"forget": forget_gate, "input": input_gate, "output": output_gate}


def recolour(parts, colour):
    """Earlier stages in grey: swap every gate colour for the neutral one."""
    text = "".join(parts)
    for c in COLOURS.values():
        text = text.replace(c[1:], colour[1:])  # strokes, fills and arrowhead marker names
    return text


def svg(stage):
    shown = STAGES[1:STAGES.index(stage) + 1]
    markers = "".join(
        f'<marker id="arrow-{c[1:]}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
        f'markerWidth="11" markerHeight="11" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
        for c in (OLD, MEMORY, *COLOURS.values()))
    old = [part for gate in shown[:-1] for part in PARTS[gate](COLOURS[gate])]
    new = PARTS[shown[-1]](COLOURS[shown[-1]]) if shown else []
    body = (f'<rect x="60" y="30" width="{WIDTH - 120}" height="{BUS_Y + 25 - 30}" rx="18" '
            f'fill="#f4f6f8" stroke="#b0b7bf" stroke-width="1.5"/>')
    # the memory line goes first, so that the operators sitting on it cover it
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">'
            f'<title>LSTM cell: {", ".join(("memory line",) + shown)}</title><defs>{markers}</defs>{body}'
            f'{"".join(memory_line())}{recolour(old, OLD)}{"".join(new)}</svg>\n')


def main():
    here = Path(__file__).resolve().parent
    for number, stage in enumerate(STAGES, start=1):
        (here / f"lstm_cell_{number}_{stage}.svg").write_text(svg(stage), encoding="utf-8")


if __name__ == "__main__":
    main()
