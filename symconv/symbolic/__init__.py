"""SymPy on demand: expressions, closed forms and the "which pixel" answers.

``expressions`` builds SymPy objects from the index maps for the entries asked for (closed forms
with symbolic sizes, the literal ``sympy.diff`` derivation behind a size guard); ``query``
answers ``which`` (an entry's terms), ``reverse`` the reverse question (who reads a pixel),
``answers`` holds the results, ``term_text`` writes long sums from integer term lists.

Imports: the foundation and ``model``.  Results show themselves in notebooks and pictures
through renderings registered from ``show`` (``symconv.display``), never by importing it.
"""
