"""Verdicts: ``check``, ``infer`` and ``explain`` against a real implementation.

``verdicts`` runs the verification of each quantity, then the diagnosis, then (when no
hypothesis explains it) the entry-by-entry search, within a budget; ``reports`` holds what each
quantity's verdict says (``CheckReport``, ``InferReport``) as text and JSON; ``inference``
reads the padding each quantity used; ``explanation`` puts the exact model's values and terms
beside a backend's.

Imports: the foundation and the stages below (``model``, ``symbolic``, ``backends``,
``probing``, ``diagnose``).  Never ``show`` or ``latex``: reports get their notebook faces and
pictures from renderings registered there (``symconv.display``).
"""
