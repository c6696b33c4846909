#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <greet.h>

static PyObject *py_greet(PyObject *self, PyObject *args) {
    int x;
    if (!PyArg_ParseTuple(args, "i", &x)) return NULL;
    return PyLong_FromLong(greet(x));
}

static PyMethodDef methods[] = {
    {"greet", py_greet, METH_VARARGS, "Return x + 1, computed by the native library."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_greet", NULL, -1, methods};

PyMODINIT_FUNC PyInit__greet(void) { return PyModule_Create(&module); }
