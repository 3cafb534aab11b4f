"""The notebook API: a HybridBlock the user holds, profiled by the CLI's workers, in a real
Jupyter kernel (nbclient + ipykernel); and `mxprof.fusion`/`mxprof.accuracy` on the same block.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow

CELLS = [
    f"import sys; sys.path.insert(0, {str(FIXTURES)!r})\n"
    "import mxnet as mx\nfrom fusion_tinynet import build\n"
    "net = build(); net.initialize(); x = mx.nd.zeros((1, 3, 16, 16))",
    "import mxprof\n"
    "report = mxprof.profile(net, x, passes=('timing',), reference=False, checks=(),\n"
    "                        batch_size=2, min_time=0.1)\n"
    "report",
    "report.timings.loc['mkldnn', ['median', 'n']].to_dict()",
    "report.to_json('saved.json'); print(mxprof.load('saved.json').kind)",
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb, folder


def _outputs(cell) -> list[dict]:
    return [o for o in cell["outputs"] if o["output_type"] != "stream" or o["name"] == "stdout"]


def test_notebook_shows_the_report_page(notebook):
    nb, folder = notebook
    for cell in nb.cells:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], cell["outputs"]
    import mxprof
    saved = mxprof.load(folder / "saved.json")
    shown = [o["data"]["text/html"] for o in _outputs(nb.cells[1])
             if "text/html" in o.get("data", {})]
    assert len(shown) == 1
    # The whole page of the saved report is inside the cell's output (an iframe's srcdoc).
    assert html.escape(saved.to_html()) in shown[0]
    assert html.escape(saved.summary) in shown[0]


def test_notebook_tables_match_the_saved_report(notebook):
    nb, folder = notebook
    data = json.loads((folder / "saved.json").read_text())
    text = nb.cells[2]["outputs"][0]["data"]["text/plain"]
    assert repr(data["latency_ms"]["median"]) in text and f"'n': {data['latency_ms']['n']}" in text
    assert nb.cells[3]["outputs"][0]["text"].strip() == "profile"
    assert data["model"]["source"] == "symbol"  # the block went through an exported pair


@pytest.fixture(scope="module")
def tiny():
    import sys

    import mxnet as mx
    sys.path.insert(0, str(FIXTURES))
    from fusion_tinynet import build
    net = build()
    net.initialize()
    return net, mx.nd.zeros((1, 3, 16, 16))


def test_fusion_of_a_block(tiny, tmp_path):
    import mxprof
    net, x = tiny
    report = mxprof.fusion(net, x, iterations=5, warmup=2, min_time=0.05, rounds=1,
                           trace_iterations=3, switches=())
    groups = report.data["groups"]
    assert groups and set(report.layers["fused_node"]) == {g["fused_node"] for g in groups}
    assert report.layers["layer"].tolist() == [m for g in groups for m in g["members"]]
    assert not Path(report.data["model"]).exists()  # the temporary export is gone
    page = tmp_path / "fusion.html"
    report.to_html(page)
    assert all(g["fused_node"] in page.read_text() for g in groups)


def test_accuracy_of_a_block(tiny):
    import mxprof
    net, x = tiny
    report = mxprof.accuracy(net, x, num_inputs=4, batch_size=4, iterations=0)
    assert list(report.configs.index) == ["mkldnn-off", "mkldnn", "mkldnn-fused"]
    assert report.configs["ok"].all()
    assert report.configs.loc["mkldnn", "top1_agreement"] == 1.0


def test_profile_rejects_a_block_without_a_shape(tiny):
    import mxprof
    with pytest.raises(ValueError, match="needs inputs"):
        mxprof.profile(tiny[0])
