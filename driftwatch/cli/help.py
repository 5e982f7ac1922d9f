"""``--help`` that lists each command with its whole first sentence, wrapped, where click would cut it
at the terminal's width with "..." (a reader choosing a command needs the end of the sentence)."""

from __future__ import annotations

import sys

import click

# --help wraps at the terminal's width, up to this many columns.
CONTEXT_SETTINGS = {"max_content_width": 120, "help_option_names": ["-h", "--help"]}


class HelpGroup(click.Group):
    """A group whose command list shows each command's first sentence in full. Subgroups declared
    with ``@group.group()`` are of this class too; a group defined elsewhere passes ``cls=HelpGroup``."""

    group_class = type

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, command.get_short_help_str(limit=sys.maxsize))
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
