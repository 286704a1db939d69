"""The dispatcher's routes: the action endpoints, the task views, the operations views."""
