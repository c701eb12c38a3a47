"""GAN Studio: `streamlit run app.py`.

Streamlit serves studio/main.py (the navigation and the home page; the pages are in studio/app_pages/) and,
beside it on the same server, the small read-only JSON API of studio/api.py that the monitor's live charts
poll. st.App is Streamlit's own server with extra routes; `streamlit run` finds it here by itself.
"""
import streamlit as st

from studio.api import routes

app = st.App("studio/main.py", routes=routes())
