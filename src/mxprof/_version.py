"""mxprof's version, in a module that imports nothing: code inside the package reads it from
here, never through `import mxprof` (an import that runs back up to the package root)."""

__version__ = "0.1.0"
