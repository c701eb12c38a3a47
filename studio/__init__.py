"""GAN Studio, the Streamlit app over ganlib: app.py serves studio/main.py (navigation and home page) and
studio.api's JSON routes. Pages are in app_pages/, the live charts' JavaScript and CSS in web/.
ganlib never imports this package."""
