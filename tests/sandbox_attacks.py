"""Code that hostile-submission tests put in answer cells (shared by the test modules)."""

# Switches the audit hook off from inside the sandbox, as in issue 8: the PermissionError
# the hook raises carries the hook's frame; replacing `refuse` makes every check pass.
DISABLE_HOOK = """
def _off():
    try:
        open('/no-such-folder/x')
    except PermissionError as e:
        tb = e.__traceback__
        while tb is not None:
            f = tb.tb_frame
            if f.f_code.co_name == 'hook':
                f.f_locals['refuse'].__code__ = (lambda what: None).__code__
                return
            tb = tb.tb_next
    raise AssertionError('hook not found')
_off()
import sys
sys.modules.pop('_posixsubprocess', None)
"""
