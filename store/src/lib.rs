//! FerrumQ storage engine. See `store/DESIGN.md` for the byte layouts.
