#!/usr/bin/python3
"""Executes the example notebooks' cells on cellgate's native kernels and
saves them with their outputs: examples/pari-number-theory.ipynb and
examples/gap-groups.ipynb. Run after `make`:

    JUPYTER_PATH=build/share/jupyter /usr/bin/python3 examples/build_examples.py
"""
import os
import sys

import nbformat
from jupyter_client.manager import start_new_kernel

HERE = os.path.dirname(os.path.abspath(__file__))

PARI = ("pari", "pari-number-theory.ipynb", "PARI/GP", [
    ("md", "# Number theory with PARI/GP\n\nFactoring, number fields and elliptic curves, "
           "run on cellgate's native PARI kernel."),
    ("md", "## Factoring\n\nThe Fermat number $F_6 = 2^{64}+1$ (Landry factored it by hand "
           "in 1880), and a product of two 20-digit primes."),
    ("code", "factor(2^64 + 1)"),
    ("code", "p = nextprime(10^19); q = nextprime(p + 10^6); factor(p * q)"),
    ("md", "## A number field\n\n$\\mathbb{Q}(\\sqrt[3]{2})$: its discriminant, class number "
           "and how small primes split."),
    ("code", "K = bnfinit(x^3 - 2); [K.disc, K.no]"),
    ("code", "vector(5, i, my(p = prime(i)); [p, #idealprimedec(K, p)])"),
    ("md", "## An elliptic curve\n\nThe congruent-number curve $y^2 = x^3 - 36x$: its "
           "conductor and analytic rank; then the curve of conductor 37, its point $(0,0)$ and that point's canonical height."),
    ("code", "E = ellinit([-36, 0]); [ellglobalred(E)[1], ellanalyticrank(E)[1]]"),
    ("code", "E37 = ellinit([0, 0, 1, -1, 0]); [ellisoncurve(E37, [0, 0]), ellheight(E37, [0, 0])]"),
    ("code", "ellak(E, 101)"),
])

GAP = ("gap", "gap-groups.ipynb", "GAP", [
    ("md", "# Groups with GAP\n\nPermutation groups and character tables, run on "
           "cellgate's native GAP kernel."),
    ("md", "## Permutation groups\n\nThe Mathieu group $M_{11}$, the smallest sporadic "
           "simple group, as a permutation group on 11 points."),
    ("code", "G := MathieuGroup(11);; Size(G);"),
    ("code", "IsSimple(G); List(ConjugacyClasses(G), c -> Order(Representative(c)));"),
    ("code", "S := SylowSubgroup(G, 11);; [Size(S), Index(G, Normalizer(G, S))];"),
    ("md", "## A character table\n\nThe alternating group $A_5$."),
    ("code", 'Display(CharacterTable("A5"));'),
    ("code", "List(Irr(CharacterTable(\"A5\")), chi -> chi[1]);"),
])


def run(kernel, cells):
    km, kc = start_new_kernel(kernel_name=kernel)
    nb = nbformat.v4.new_notebook()
    try:
        count = 0
        for kind, src in cells:
            if kind == "md":
                nb.cells.append(nbformat.v4.new_markdown_cell(src))
                continue
            msg_id = kc.execute(src)
            outputs = []
            while True:
                m = kc.get_iopub_msg(timeout=120)
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                t, c = m["msg_type"], m["content"]
                if t == "status" and c["execution_state"] == "idle":
                    break
                if t in ("stream", "execute_result", "display_data", "error"):
                    outputs.append(nbformat.v4.output_from_msg(m))
            reply = kc.get_shell_msg(timeout=120)["content"]
            if reply["status"] != "ok":
                sys.exit(f"{kernel}: {src!r} failed: {reply.get('evalue')}")
            count = reply.get("execution_count", count + 1)
            nb.cells.append(nbformat.v4.new_code_cell(src, outputs=outputs, execution_count=count))
        info = kc.kernel_info(reply=True)["content"]
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": km.kernel_spec.display_name,
                                     "language": km.kernel_spec.language}
        nb.metadata["language_info"] = info["language_info"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return nb


def main():
    for kernel, name, _, cells in (PARI, GAP):
        nb = run(kernel, cells)
        nbformat.validate(nb)
        nbformat.write(nb, os.path.join(HERE, name))
        print(f"wrote examples/{name}")


if __name__ == "__main__":
    main()
