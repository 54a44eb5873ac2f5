"""Scipion wizards of resolvecryoem."""
from .wizards import ResolveCryoEMResolutionWizard, ResolveCryoEMSolventFractionWizard

__all__ = ["ResolveCryoEMResolutionWizard", "ResolveCryoEMSolventFractionWizard"]
