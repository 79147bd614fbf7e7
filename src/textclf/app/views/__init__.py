"""The app's pages: Streamlit scripts run by ``st.navigation`` in ``main.py``, not imported."""
