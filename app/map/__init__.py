"""The interactive map at ``/map``: page builder, offline asset list and installer."""
