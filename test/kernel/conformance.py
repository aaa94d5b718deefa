"""jupyter_kernel_test conformance suite for the ctxlab kernel.

Run by test/kernel/conformance.test.ts with JUPYTER_PATH pointing at a kernelspec installed into a
temporary prefix (`kernelCli(["kernel", "install", "--prefix", tmp])`), from test/kernel/ so that
`ctxlab/kernel` resolves. Not applicable: code_page_something (the kernel has no pager payloads).
"""
import os
import unittest

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel


class CtxlabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "ctxlab"

    @classmethod
    def setUpClass(cls):
        # The kernel's own log (stderr) goes to CTXLAB_KERNEL_LOG when set, not into unittest's -v
        # stream: interleaved there, a kernel line could split "test_x ... ok" and hide a pass.
        path = os.environ.get("CTXLAB_KERNEL_LOG")
        cls._kernel_log = open(path, "w") if path else None
        extra = {"stderr": cls._kernel_log} if cls._kernel_log else {}
        cls.km, cls.kc = start_new_kernel(kernel_name=cls.kernel_name, **extra)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls._kernel_log:
            cls._kernel_log.close()
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("to stderr")'

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "[1, 2].fil", "matches": {"fill", "filter"}},
    ]

    complete_code_samples = ["1", 'console.log("hi")', "function f(x: number) { return x + 1 }", "const a = [1, 2, 3]"]
    incomplete_code_samples = ["function f() {", "1 +", "for (let i = 0; i < 3; i++) {", "const o = {", "`a template"]
    invalid_code_samples = ["a = = 1", "}", "let x: = 3"]

    code_generate_error = 'throw new Error("boom")'

    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
    ]

    code_display_data = [
        {"code": 'import { display, html } from "ctxlab/kernel";\ndisplay(html("<b>hi</b>"))', "mime": "text/html"},
        {"code": 'import { display } from "ctxlab/kernel";\ndisplay({ a: 1 })', "mime": "text/plain"},
    ]

    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.max"

    code_clear_output = 'import { clearOutput } from "ctxlab/kernel";\nclearOutput()'


if __name__ == "__main__":
    unittest.main()
