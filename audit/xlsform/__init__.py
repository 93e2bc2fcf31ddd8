"""XLSForm, the form format of ODK, KoboToolbox, Ona and SurveyCTO: rubrics read from and written to it.

``reader`` (``audit rubric import``), ``writer`` (``audit rubric export``),
``xpath`` (``relevant`` to and from rules) and ``workbook`` (reading an
untrusted workbook safely). See docs/xlsform.md.
"""
