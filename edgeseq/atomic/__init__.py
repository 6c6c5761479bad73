"""Writing files, sets of files and folders so that a failure never leaves half a result.

Every artifact edgeseq writes is first written whole under a temporary name beside its
destination (``.NAME.PID.RANDOM.tmp``), flushed to disk, and only then moved into place; an
existing destination is replaced only when the user said ``--force``, and never the folder
the user is in or one that holds it.

* ``write_bytes`` / ``write_text``: one file. Replacing is one rename (readers see the old
  bytes or the new, never a mix); creating is a hard link, which fails if the name exists,
  so two writers racing to one new name cannot both succeed.
* ``write_set``: the files of one exported model (edgeseq.atomic.sets): all written into a
  staging folder, then moved into place under a journal, the step file last.
* ``new_folder``: a run folder, written into a temporary folder that then takes the
  destination's place. Replacing swaps the two in one step (Linux ``renameat2`` with
  ``RENAME_EXCHANGE``), so there is no moment without a run folder; where the system
  cannot swap, the old folder is first renamed aside (``.NAME.PID.RANDOM.old``) and a killed
  writer's next run puts it back.

Leftovers of a killed writer carry its process id; the next write to the same name removes
or finishes them (``edgeseq.atomic.leftovers.recover``), saying so, and leaves those of a writer
still running alone. Any OSError (a full disk, a read-only folder) is one line
(``cannot_write``), with the previous files intact.
"""
from edgeseq.atomic.writers import check_new_folder, new_folder, write_bytes, write_text
from edgeseq.atomic.leftovers import recover
from edgeseq.atomic.sets import write_set
from edgeseq.atomic.steps import (cannot_write, check_new_file, probe_writable, refuse_enclosing, refuse_link,
                                  refuse_overwrite)

__all__ = ["write_bytes", "write_text", "new_folder", "check_new_folder", "check_new_file", "probe_writable",
           "write_set", "recover", "refuse_overwrite", "refuse_enclosing", "refuse_link", "cannot_write"]
