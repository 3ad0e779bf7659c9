//! AST dump (stub).
