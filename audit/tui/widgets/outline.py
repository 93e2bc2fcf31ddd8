"""The walk-through's outline: sections and their questions, each marked with a state."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from audit.tui.format import shorten

ANSWERED, TODO, NOT_APPLICABLE, ATTENTION, RETIRED, PENDING = (
    "answered", "todo", "not_applicable", "attention", "retired", "pending"
)

#: state -> (mark, style)
MARKS = {
    ANSWERED: ("✓", "green"),
    TODO: ("·", ""),
    ATTENTION: ("!", "bold yellow"),
    NOT_APPLICABLE: ("–", "dim"),
    RETIRED: ("×", "dim strike"),
    PENDING: ("?", "dim"),  # its rule waits on an answer not given yet
}


class Outline(Tree[str]):
    """Node data is a question id (or None for a section)."""

    class Jump(Message):
        """The inspector picked a question in the outline."""

        def __init__(self, question_id: str) -> None:
            super().__init__()
            self.question_id = question_id

    def __init__(self, **kwargs) -> None:
        super().__init__("outline", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self._question_nodes: dict[str, TreeNode[str]] = {}
        self._section_nodes: dict[str, TreeNode[str]] = {}
        self._question_texts: dict[str, str] = {}
        self._shown_states: dict[str, tuple[str, bool]] = {}
        self._section_shown: dict[str, Text] = {}

    def build(self, sections: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
        """Sections as (id, title, [(question id, short text)])."""
        self.clear()
        self._question_nodes.clear()
        self._section_nodes.clear()
        self._shown_states.clear()
        self._section_shown.clear()
        for section_id, title, questions in sections:
            node = self.root.add(Text(title, style="bold"), data=None, expand=True)
            self._section_nodes[section_id] = node
            for question_id, text in questions:
                self._question_texts[question_id] = text
                self._question_nodes[question_id] = node.add_leaf(Text(text), data=question_id)

    def show_states(self, states: dict[str, str], current: str | None, sections: dict[str, Text]) -> None:
        """Relabel only the questions whose state (or current-ness) changed."""
        for question_id, state in states.items():
            key = (state, question_id == current)
            if self._shown_states.get(question_id) == key:
                continue
            self._shown_states[question_id] = key
            mark, style = MARKS[state]
            label = Text.assemble((f"{mark} ", style), (self._question_texts[question_id], style if state != ATTENTION else ""))
            if question_id == current:
                label.stylize("bold reverse", 2)
            self._question_nodes[question_id].set_label(label)
        for section_id, label in sections.items():
            if self._section_shown.get(section_id) != label:
                self._section_shown[section_id] = label
                self._section_nodes[section_id].set_label(label)

    def state_of(self, question_id: str) -> str | None:
        """The state the outline shows for a question."""
        shown = self._shown_states.get(question_id)
        return shown[0] if shown else None

    def point_at(self, question_id: str) -> None:
        node = self._question_nodes.get(question_id)
        if node is None:
            return
        if node.line < 0:  # lines are laid out on the next refresh
            self.call_after_refresh(self.point_at, question_id)
            return
        if self.cursor_node is not node:
            self.move_cursor(node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Jump(event.node.data))


def outline_text(number: int, text: str, width: int = 32) -> str:
    return f"{number:>2} {shorten(text, width)}"
