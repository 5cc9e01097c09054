// The Python side of `retrace python`, given to the interpreter with -c: it opens the events
// through retis's own library (PyPI `retis`) and runs the script, or an interactive console,
// with the globals retis python defines (`reader`, an EventFile; `sys`, argv set for the script).
// argv after -c: INPUT ROTATED(0|1) [SCRIPT [ARGS...]].

export const PYTHON_SHELL = `
import sys
try:
    from retis import EventFile
except ImportError as e:
    sys.stderr.write(
        "retrace python: retis's Python library is not installed for " + sys.executable + " (" + str(e) + ").\\n"
        "Install it with: " + sys.executable + " -m pip install retis\\n"
        "or set RETRACE_PYTHON to a Python that has it.\\n"
    )
    sys.exit(1)
_input, _rotated, _rest = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
try:
    reader = EventFile.with_rotation(_input) if _rotated and hasattr(EventFile, "with_rotation") else EventFile(_input)
except Exception as e:
    sys.stderr.write("retrace python: retis's library cannot open " + _input + ": " + str(e) + "\\n")
    sys.exit(1)
_globals = {"__name__": "__main__", "__builtins__": __builtins__, "reader": reader, "sys": sys}
if _rest:
    sys.argv = list(_rest)
    _globals["__file__"] = _rest[0]
    with open(_rest[0]) as _f:
        _code = compile(_f.read(), _rest[0], "exec")
    del _input, _rotated, _rest, _f
    exec(_code, _globals)
else:
    sys.argv = [""]
    try:
        exec("from scapy.all import *", _globals)
    except ImportError:
        pass
    import code
    code.interact(local=_globals)
`;
