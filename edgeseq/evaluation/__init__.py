"""How edgeseq scores a model, shared by training (which reports) and the runtime (which replays).

numpy only. ``text``: cross-entropy and masked next-character metrics. ``forecast``: forecast
errors beside the persistence forecast. ``backtest``: the walk-forward record both training
and ``edgeseq run stock --backtest`` print. ``rounding``: when differences that grow with
the sequence length mean a chaotic model (export and training judge alike).
"""
