"""Pure folds from events to views, the view stores, and their queries."""

from projections.case_state import CaseState, DecisionSummary, project, project_all
from projections.case_view import SQLiteCaseView

__all__ = ["CaseState", "DecisionSummary", "SQLiteCaseView", "project", "project_all"]
