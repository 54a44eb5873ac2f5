"""The ``resolvecryoem`` command line (no Scipion needed).

    resolvecryoem HALF_MAP_1 HALF_MAP_2 --seq-file seq.fasta --output-dir out [keywords]
    resolvecryoem example --output-dir demo
    resolvecryoem compare MAP_A MAP_B [--model M] [--resolution D]
    resolvecryoem verdict OUT_DIR

Every keyword of :class:`~resolvecryoem.core.params.DensityModificationParams` is a flag
(``molecular_mass`` -> ``--molecular-mass``; booleans as ``--flag/--no-flag``).

Exit codes: 0 success; 2 bad input (a message naming the file or keyword, no traceback, no
outputs); 130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (``kill``, ``scancel``):
128 + the signal's number, as shells report it, after removing what the run had started to
write; 1 anything else (a bug: the traceback is printed).
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .core.allocator import reuse_freed_memory
from .core.errors import InputError
from .core.interrupts import Interrupted, signals_as_interrupts
from .core.params import (DensityModificationParams, cli_flag, field_type, limits_text,
                          param_fields)

SUBCOMMANDS = ("example", "compare", "verdict")


def add_param_arguments(parser: argparse.ArgumentParser):
    """One flag per parameter, help text from the dataclass."""
    group = parser.add_argument_group("density-modification keywords")
    for f in param_fields():
        t, _ = field_type(f.name)
        limits = limits_text(f.name) if t in (int, float) else ""
        # argparse formats help texts with %: a literal % must be doubled.
        help_text = f.metadata.get("help", "").replace("%", "%%")
        kw = dict(dest=f.name, default=argparse.SUPPRESS,
                  help=help_text + f" (default: {f.default}" + (f"; {limits}" if limits else "")
                  + ")")
        if t is bool:
            group.add_argument(cli_flag(f.name), action=argparse.BooleanOptionalAction, **kw)
        else:
            group.add_argument(cli_flag(f.name), type=t, metavar=f.name.upper(), **kw)


def params_from_args(args: argparse.Namespace) -> DensityModificationParams:
    names = {f.name for f in param_fields()}
    return DensityModificationParams(**{k: v for k, v in vars(args).items() if k in names})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="resolvecryoem",
        description="Density modification of a cryo-EM map from two unmasked half maps. "
                    "Other commands: 'resolvecryoem example', 'resolvecryoem compare', "
                    "'resolvecryoem verdict' (each with --help).")
    p.add_argument("half_map_1", help="first unmasked half map (MRC)")
    p.add_argument("half_map_2", help="second unmasked half map (MRC)")
    p.add_argument("--seq-file", help="sequence of the molecule (FASTA, PIR or plain "
                                      "letters; all chains, or one copy with --copies)")
    p.add_argument("--full-map", help="full map to recombine instead of the half-map average")
    p.add_argument("--mask", help="mask file (1 = molecule, 0 = solvent), same box as the "
                                  "half maps")
    p.add_argument("--model", help="atomic model (PDB or mmCIF) for model-based density "
                                   "modification: 8 randomised copies refined against each "
                                   "half map; the model-free result is kept as "
                                   "denmod_map_no_model.mrc")
    p.add_argument("--symmetry-file", help=".ncs_spec symmetry operators (Phenix find_ncs) "
                                           "averaged in density modification")
    p.add_argument("--output-dir", default="resolvecryoem_output",
                   help="folder for the outputs (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--version", action="version", version=f"resolvecryoem {__version__}")
    add_param_arguments(p)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    reuse_freed_memory()  # a run in this process: map-sized arrays come and go
    try:
        with signals_as_interrupts():
            return _dispatch(argv)
    except (InputError, NotImplementedError) as e:
        return _fail(str(e), 2)
    except Interrupted as e:
        return _fail(f"interrupted by {e.name}", e.exit_code, "stopped")
    except KeyboardInterrupt:  # before the handlers were in place
        return _fail("interrupted by SIGINT", 130, "stopped")
    except MemoryError:
        return _fail("out of memory: try box_before_analysis (on by default), a smaller box, "
                     "or a machine with more memory", 1)


def _fail(message: str, code: int, what: str = "error") -> int:
    print(f"resolvecryoem: {what}: {message}", file=sys.stderr)
    return code


def _dispatch(argv) -> int:
    if argv and argv[0] == "example":
        from .example import example_main
        return example_main(argv[1:])
    if argv and argv[0] == "compare":
        from .core.validation import compare_main
        return compare_main(argv[1:])
    if argv and argv[0] == "verdict":
        from .core.validation import verdict_main
        return verdict_main(argv[1:])
    args = build_parser().parse_args(argv)
    params = params_from_args(args)
    from .core.pipeline import run
    results = run(args.half_map_1, args.half_map_2, args.output_dir, params,
                  seq_file=args.seq_file, full_map=args.full_map, mask=args.mask,
                  model=args.model, symmetry_file=args.symmetry_file,
                  log=None if args.quiet else print)
    r = results["resolution"]
    print(f"resolution before {r['half_map_fsc']:.2f} A, after density modification "
          f"{r['after_corrected']:.2f} A (corrected); outputs in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
