"""Renderings: pictures, notebook HTML and LaTeX tables, proof text, and where output goes.

``plot`` draws pictures (matplotlib, imported on first use), ``notebook`` writes HTML and LaTeX
for notebooks, ``proof_text`` the text of proofs; each registers what it renders with
``symconv.display``, so that results (answers, reports, proofs) show themselves without
importing this stage.  ``outputs`` is the one rule for every output option (``-``, folders,
picture formats by suffix).

Imports: the foundation and the stages below (``model`` to ``sweeps``).  Nothing below imports
it; ``network``, ``testing`` and ``commands`` above may.
"""
