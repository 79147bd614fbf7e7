"""The Streamlit app: predictions with confidence, explanations, batch files, history, feedback.

Start it with ``textclf app --model DIR``. Streamlit is imported only by the page scripts
(``main.py``, ``views/``) and :mod:`textclf.app.session` / :mod:`textclf.app.components`;
the logic behind them (settings, file reading, result tables, history) lives in plain
modules that work and are tested without Streamlit.
"""
