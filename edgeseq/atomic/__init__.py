"""All-or-nothing writes: a file, the files of one model as a set, a run folder.

Everything is written whole under a temporary name beside its target, then moved into place;
a killed writer's leftovers are finished or removed by the next write. Standard library only:
docs/design.md, "Writes".
"""
from edgeseq.atomic.writers import check_new_folder, new_folder, write_bytes, write_text
from edgeseq.atomic.leftovers import recover
from edgeseq.atomic.sets import write_set
from edgeseq.atomic.steps import (cannot_write, check_new_file, probe_writable, refuse_enclosing, refuse_link,
                                  refuse_overwrite)

__all__ = ["write_bytes", "write_text", "new_folder", "check_new_folder", "check_new_file", "probe_writable",
           "write_set", "recover", "refuse_overwrite", "refuse_enclosing", "refuse_link", "cannot_write"]
