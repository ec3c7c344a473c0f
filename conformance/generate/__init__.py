"""Generators of the golden vectors (``refq vectors build``) and their verification.

Each generator module yields :class:`~refq.conformance.generate.case_spec.CaseSpec`
objects: the inputs and attributes of one case, derived from format parameters and
fixed seeds. :mod:`.writer` runs refq's reference for every profile and writes the
descriptors and ``.npy`` files; :mod:`.build` assembles a whole level and
:mod:`.verify` checks a tree against the schema, its hashes and a fresh build.
"""
