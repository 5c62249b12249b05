#!/usr/bin/python3
"""check_responses.py OPENAPI.yaml TRACE-DIR: check every answer the
integration tests received against the document, with a real JSON Schema
validator (python3-jsonschema).

For each answer: the path matches a path of the document (else it must be
404 or 400 with an error body), the method is listed for it (else 405 with
an error body; HEAD counts as GET), the status is declared for that
operation, the content type is one the response declares, and a JSON body
validates against the response's schema. Error bodies must also carry the
code that goes with their status (the table in the description of
Error.error.code, which is api/errors.c's). Binary and text answers
(blobs, metrics) are matched by content type only.

OpenAPI 3.0 schemas are JSON Schema draft 4 plus `nullable`; `nullable:
true` becomes a type list with "null" (an enum gains null), as OpenAPI
3.0.3 defines it. Each distinct (route, status, body) is validated once.

Records (written by tests/integration/lib.sh and vmctl):
  sh.*        "METHOD\\tSTATUS\\tCONTENT-TYPE\\tSIZE\\tPATH\\n", SIZE bytes
              of body, "\\n" (lib.sh's api and trace_record)
  *.trace     JSON lines {"method","path","status","body"} (vmctl's
              VMCTL_TRACE_FILE; no content type)
  casedirs    directories of N.m N.p N.s N.o N.h files (matrix.sh)
Exit 0 when every answer matches; else 1, one line per distinct problem.
"""
import copy
import glob
import hashlib
import json
import os
import re
import sys
import time

import jsonschema
import yaml


class StrictLoader(yaml.SafeLoader):
    """Refuses a key given twice in one mapping, like every OpenAPI tool."""


def _strict_mapping(loader, node, deep=False):
    seen = set()
    for knode, _ in node.value:
        key = loader.construct_object(knode, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, 'duplicate key %r' % (key,), knode.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)

METHODS = ('get', 'put', 'post', 'delete', 'patch')


def oas30_to_jsonschema(node):
    """A deep copy of an OpenAPI 3.0 schema tree as JSON Schema draft 4:
    nullable -> "null" in the type (or an anyOf with null)."""
    if isinstance(node, list):
        return [oas30_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: oas30_to_jsonschema(v) for k, v in node.items()
           if k not in ('nullable', 'example', 'discriminator', 'xml',
                        'externalDocs', 'deprecated')}
    if node.get('nullable') is True:
        t = out.get('type')
        if isinstance(t, str):
            out['type'] = [t, 'null']
            if 'enum' in out and None not in out['enum']:
                out['enum'] = out['enum'] + [None]
        elif t is None:
            out = {'anyOf': [out, {'type': 'null'}]}
    return out


class Checker:
    def __init__(self, docfile):
        self.doc = yaml.load(open(docfile), Loader=StrictLoader)
        assert self.doc.get('openapi', '').startswith('3.0.'), \
            'only OpenAPI 3.0 documents'
        # The whole document, converted, is the resolver's root: every
        # "#/components/..." reference resolves in it.
        self.root = oas30_to_jsonschema(
            {'components': self.doc.get('components', {})})
        self.resolver = jsonschema.RefResolver('', self.root)
        self.routes = []
        for tpl, item in self.doc['paths'].items():
            rx = '^' + re.sub(r'\\{\w+\\}', '[^/]+', re.escape(tpl)) + '$'
            self.routes.append((tpl.count('{'), tpl, re.compile(rx), item))
        # Literal paths before templates (/v1/vms/x/actions is not a VM).
        self.routes.sort(key=lambda r: (r[0], r[1]))
        self.validators = {}
        self.seen = set()
        self.problems = {}
        self.answers = 0
        self.checked = 0
        self.used = set()
        code_desc = self.doc['components']['schemas']['Error'][
            'properties']['error']['properties']['code']['description']
        self.code_status = {c: int(s) for c, s in
                            re.findall(r'(\w+) (\d{3})', code_desc)}

    def deref(self, node):
        while isinstance(node, dict) and '$ref' in node:
            _, target = self.resolver.resolve(node['$ref'])
            node = target
        return node

    def problem(self, method, tpl, status, msg):
        key = (method, tpl, status, msg)
        self.problems.setdefault(key, 0)
        self.problems[key] += 1

    def validator(self, key, schema):
        v = self.validators.get(key)
        if v is None:
            v = jsonschema.Draft4Validator(
                oas30_to_jsonschema(schema), resolver=self.resolver,
                format_checker=jsonschema.FormatChecker())
            self.validators[key] = v
        return v

    def check_json(self, method, tpl, status, key, schema, body):
        try:
            obj = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError) as e:
            self.problem(method, tpl, status, 'body is not JSON: %s: %.120r'
                         % (e, body[:120]))
            return None
        errs = sorted(self.validator(key, schema).iter_errors(obj),
                      key=lambda e: list(e.absolute_path))
        for e in errs[:3]:
            where = '/'.join(str(x) for x in e.absolute_path) or '(body)'
            self.problem(method, tpl, status,
                         'schema: at %s: %s' % (where, e.message[:300]))
        return obj

    def check_error_code(self, method, tpl, status, obj):
        if not isinstance(obj, dict) or \
                not isinstance(obj.get('error'), dict):
            return
        code = obj['error'].get('code')
        want = self.code_status.get(code)
        if want is not None and want != status:
            self.problem(method, tpl, status,
                         'error code %s goes with %d' % (code, want))

    def check(self, method, path, status, ctype, body):
        self.answers += 1
        if status == 0:
            return		# no answer (connection refused, timeout)
        method = method.upper()
        path = path.split('?', 1)[0].split('#', 1)[0]
        if len(path) > 1 and path.endswith('/'):
            path = path[:-1]
        digest = hashlib.sha1(body).hexdigest()
        mime = (ctype or '').split(';')[0].strip().lower()
        route = None
        for _, tpl, rx, item in self.routes:
            if rx.match(path):
                route = (tpl, item)
                break
        tpl = route[0] if route else '(no route)'
        key = (method, tpl, status, mime, digest)
        if key in self.seen:
            return
        self.seen.add(key)
        self.checked += 1
        error_schema = {'$ref': '#/components/schemas/Error'}
        if route is None:
            if status not in (400, 404):
                self.problem(method, path, status,
                             'path matches no route, answer not 404')
            elif body:
                obj = self.check_json(method, tpl, status, ('err',),
                                      error_schema, body)
                self.check_error_code(method, tpl, status, obj)
            return
        item = route[1]
        op_name = 'get' if method == 'HEAD' else method.lower()
        op = item.get(op_name) if op_name in METHODS else None
        if op is None:
            if status not in (405, 400, 404):
                self.problem(method, tpl, status,
                             'method not in the document, answer not 405')
            elif body and method != 'HEAD':
                obj = self.check_json(method, tpl, status, ('err',),
                                      error_schema, body)
                self.check_error_code(method, tpl, status, obj)
            return
        self.used.add((op_name, tpl, status))
        resps = op.get('responses', {})
        resp = resps.get(str(status)) or resps.get('%dXX' % (status // 100))\
            or resps.get('default')
        if resp is None:
            self.problem(method, tpl, status,
                         'status not declared (declared: %s); body %.200r'
                         % (' '.join(sorted(resps)), body[:200]))
            return
        resp = self.deref(resp)
        content = resp.get('content') or {}
        if method == 'HEAD' or not body:
            if not content or method == 'HEAD' or status == 204:
                return
            # An empty body where content is declared: only for types
            # that may be empty.
            if any(m.startswith('application/json') for m in content):
                self.problem(method, tpl, status,
                             'empty body, JSON declared')
            return
        if not content:
            self.problem(method, tpl, status,
                         'a body where the document declares none')
            return
        if mime and mime not in content:
            self.problem(method, tpl, status,
                         'content type %s not declared (%s)' %
                         (mime, ' '.join(content)))
            return
        if not mime:
            # vmctl's trace: no content type; JSON where it parses.
            mime = 'application/json' if 'application/json' in content \
                else next(iter(content))
        if mime != 'application/json':
            return		# binary or text: the content type is enough
        schema = content[mime].get('schema')
        if schema is None:
            return
        obj = self.check_json(method, tpl, status, (op_name, tpl, str(status)),
                              schema, body)
        if status >= 400:
            self.check_error_code(method, tpl, status, obj)

    # ------------------------------------------------------------ readers

    def read_sh(self, fname):
        data = open(fname, 'rb').read()
        pos = 0
        while pos < len(data):
            nl = data.find(b'\n', pos)
            if nl < 0:
                self.problem('-', fname, 0, 'truncated record')
                return
            f = data[pos:nl].decode('utf-8', 'replace').split('\t', 4)
            if len(f) != 5:
                self.problem('-', fname, 0, 'bad record header %r' % f)
                return
            method, st, ctype, size, path = f
            if ctype == '-':
                ctype = ''	# unknown (no header file)
            size = int(size or 0)
            body = data[nl + 1:nl + 1 + size]
            pos = nl + 1 + size + 1
            self.check(method, path, int(st or 0), ctype, body)

    def read_cli(self, fname):
        for line in open(fname, 'rb'):
            try:
                r = json.loads(line.decode('utf-8', 'surrogateescape'))
            except ValueError:
                self.problem('-', fname, 0, 'bad trace line %.80r' % line)
                continue
            self.check(r['method'], r['path'], int(r['status']), None,
                       r['body'].encode('utf-8', 'surrogateescape'))

    def read_cases(self, d):
        for mfile in glob.glob(os.path.join(d, '*.m')):
            base = mfile[:-2]
            try:
                method = open(mfile).read().strip()
                path = open(base + '.p').read().strip()
                st = int(open(base + '.s').read().strip() or 0)
                body = open(base + '.o', 'rb').read() \
                    if os.path.exists(base + '.o') else b''
                ctype = ''
                if os.path.exists(base + '.h'):
                    for h in open(base + '.h', 'rb').read().decode(
                            'latin-1').split('\r\n'):
                        if h.lower().startswith('content-type:'):
                            ctype = h.split(':', 1)[1].strip()
            except (OSError, ValueError):
                continue		# a case that did not run
            self.check(method, path, st, ctype, body)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: check_responses.py OPENAPI.yaml TRACE-DIR')
    t0 = time.monotonic()
    try:
        c = Checker(sys.argv[1])
    except (OSError, yaml.YAMLError) as e:
        print('%s: %s' % (sys.argv[1], e))
        sys.exit(1)
    d = sys.argv[2]
    for f in sorted(glob.glob(os.path.join(d, 'sh.*'))):
        c.read_sh(f)
    for f in sorted(glob.glob(os.path.join(d, '*.trace'))):
        c.read_cli(f)
    cd = os.path.join(d, 'casedirs')
    if os.path.exists(cd):
        for line in open(cd):
            if line.strip():
                c.read_cases(line.strip())
    for (method, tpl, status, msg), n in sorted(c.problems.items(),
                                                key=lambda x: str(x[0])):
        print('%s %s %s: %s%s' % (method, tpl, status, msg,
                                  ' (%d answers)' % n if n > 1 else ''))
    print('%d answers, %d distinct checked, %d operation+status pairs seen,'
          ' %d problems (%.1f s)' % (c.answers, c.checked, len(c.used),
                                    len(c.problems), time.monotonic() - t0))
    sys.exit(1 if c.problems else 0)


if __name__ == '__main__':
    main()
