"""The ``resolvecryoem`` command line (no Scipion needed).

    resolvecryoem HALF_MAP_1 HALF_MAP_2 --seq-file seq.fasta --output-dir out [keywords]
    resolvecryoem example --output-dir demo
    resolvecryoem compare MAP_A MAP_B [--model M] [--resolution D]
    resolvecryoem verdict OUT_DIR

Every keyword of :class:`~resolvecryoem.core.params.DensityModificationParams` is a flag
(``molecular_mass`` -> ``--molecular-mass``; booleans as ``--flag/--no-flag``).
"""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .core.errors import InputError
from .core.params import DensityModificationParams, cli_flag, field_type, param_fields

SUBCOMMANDS = ("example", "compare", "verdict")


def add_param_arguments(parser: argparse.ArgumentParser):
    """One flag per parameter, help text from the dataclass."""
    group = parser.add_argument_group("density-modification keywords")
    for f in param_fields():
        t, _ = field_type(f.name)
        # argparse formats help texts with %: a literal % must be doubled.
        help_text = f.metadata.get("help", "").replace("%", "%%")
        kw = dict(dest=f.name, default=argparse.SUPPRESS,
                  help=help_text + f" (default: {f.default})")
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
    p.add_argument("--model", help="atomic model for model-based density modification "
                                   "(not available yet)")
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
    try:
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
    except (InputError, NotImplementedError) as e:
        print(f"resolvecryoem: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
