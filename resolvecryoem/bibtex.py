"""
@article{Terwilliger2020,
title = {Improvement of cryo-EM maps by density modification},
author = {Terwilliger, Thomas C. and Ludtke, Steven J. and Read, Randy J. and Adams, Paul D. and Afonine, Pavel V.},
journal = {Nature Methods},
volume = {17},
pages = {923--927},
year = {2020},
doi = {10.1038/s41592-020-0914-9}
}

@article{Terwilliger2020b,
title = {Cryo-EM map interpretation and validation: density modification},
author = {Terwilliger, Thomas C. and Sobolev, Oleg V. and Afonine, Pavel V. and Adams, Paul D. and Read, Randy J.},
journal = {Acta Crystallographica Section D},
volume = {76},
pages = {912--925},
year = {2020},
doi = {10.1107/S205979832001061X}
}

@article{Terwilliger2000,
title = {Maximum-likelihood density modification},
author = {Terwilliger, Thomas C.},
journal = {Acta Crystallographica Section D},
volume = {56},
pages = {965--972},
year = {2000},
doi = {10.1107/S0907444900005072}
}
"""
