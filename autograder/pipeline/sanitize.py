"""Sanitize: make a submission's test cells the instructor's again, before it runs.

nbgrader's ``OverwriteCells`` already restores the source, type and points of
every test cell from the gradebook. ``RestoreTestCells`` adds what a hostile
notebook needs on top of it (nbgrader 0.9.6):

* a deleted test cell is put back, and run (nbgrader's own way of adding it
  builds the cell from nested plain dicts and then fails on them);
* a cell claiming a grade id the assignment does not have — a renamed test, or
  a duplicate that nbgrader's ``DeduplicateIds`` emptied — becomes a plain cell
  (nbgrader drops only the id, and then fails on a grade cell without one).
"""

import nbformat
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import OverwriteCells
from traitlets import Bool


class RestoreTestCells(OverwriteCells):
    add_missing_cells = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if "nbgrader" in cell.metadata and "grade_id" not in cell.metadata.nbgrader:
            del cell.metadata["nbgrader"]
        return cell, resources

    def missing_cell_transform(self, source_cell, max_score, is_solution=False, is_task=False):
        """The cell as the gradebook has it, headed by a note saying it was put back."""
        code = source_cell.cell_type == "code"
        note = self.missing_cell_notification.format(cell_id=source_cell.name)
        meta = {"grade": not is_task, "grade_id": source_cell.name, "locked": source_cell.locked,
                "checksum": source_cell.checksum, "cell_type": source_cell.cell_type, "points": max_score,
                "solution": is_solution}
        if is_task:
            meta.update(task=True, schema_version=3)
        metadata = {"deletable": False, "nbgrader": meta, **({} if is_solution else {"editable": False})}
        new_cell = nbformat.v4.new_code_cell if code else nbformat.v4.new_markdown_cell
        cell = new_cell(("# " if code else "") + note + source_cell.source, metadata=metadata)
        return MetadataValidator().upgrade_cell_metadata(cell)
