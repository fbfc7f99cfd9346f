using InferenceServer.Tokenization.Templates;

namespace InferenceServer.Tokenization.Tests.Templates;

/// <summary>
/// Snippets exercising one jinja2 feature each. Expected outputs and error messages were produced by jinja2 3.1.6
/// configured as transformers configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
/// loopcontrols, transformers' tojson and raise_exception). Python's TypeError/ValueError/ZeroDivisionError
/// are all <see cref="TemplateErrorKind.Runtime"/> here, written "Error:".
/// </summary>
public class Jinja2SemanticsTests
{
    [Theory]
    [InlineData("a\n  {% if x %}\n    yes\n  {% endif %}\nb", "{\"x\": true}", "a\n    yes\nb")]
    [InlineData("  {%+ if x %}y{% endif %}", "{\"x\": true}", "  y")]
    [InlineData("{% if x -%}  \n  y  {%- endif %}|", "{\"x\": true}", "y|")]
    [InlineData("{{- ' a ' -}}  \n {{ 'b' }}\n{# c #}\nd", "{}", " a b\nd")]
    [InlineData("x {# c #} y\n  {# c2 #}\nz", "{}", "x  y\nz")]
    [InlineData("{% for i in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}", "{\"xs\": [\"a\", \"b\", \"c\"]}", "1/0/3/2/True/False/3;2/1/2/1/False/False/3;3/2/1/0/False/True/3;")]
    [InlineData("{% for i in xs if i != 'b' %}{{ loop.index }}{{ i }}{{ loop.last }} {% else %}none{% endfor %}", "{\"xs\": [\"a\", \"b\", \"c\"]}", "1aFalse 2cTrue ")]
    [InlineData("{% for i in xs %}{{ i }}{% else %}empty{% endfor %}", "{\"xs\": []}", "empty")]
    [InlineData("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", "{\"d\": {\"b\": 1, \"a\": 2}}", "b=1,a=2,")]
    [InlineData("{% for k in d %}{{ k }}{% endfor %}|{% for k, v in d | items %}{{ v }}{% endfor %}|{{ d | dictsort }}", "{\"d\": {\"b\": 1, \"a\": 2}}", "ba|12|[('a', 2), ('b', 1)]")]
    [InlineData("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", "{}", "0134")]
    [InlineData("{% set ns = namespace(n=0, s='') %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% set x = i %}{% endfor %}{{ ns.n }}|{{ x }}|{{ ns }}", "{}", "6||<Namespace {'n': 6, 's': ''}>")]
    [InlineData("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 3 %}{% endif %}{{ x }}", "{}", "213")]
    [InlineData("{{ xs[1:] }}|{{ xs[-1] }}|{{ xs[::-1] }}|{{ xs[:2] }}|{{ xs[1:-1] }}|{{ s[::-1] }}|{{ s[1:3] }}|{{ s[-1] }}", "{\"xs\": [1, 2, 3, 4], \"s\": \"héllo🙂\"}", "[2, 3, 4]|4|[4, 3, 2, 1]|[1, 2]|[2, 3]|🙂olléh|él|🙂")]
    [InlineData("{{ m.role }}|{{ m['role'] }}|{{ m.missing }}|{{ m.missing is defined }}|{{ m['items'] is defined }}", "{\"m\": {\"role\": \"user\"}}", "user|user||False|True")]
    [InlineData("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ 'a' ~ 1 ~ none }}|{{ 1 == 1.0 }}|{{ true + 1 }}", "{}", "7|3|-4|1|2|3.5|1024|a1None|True|2")]
    [InlineData("{{ 'x' if a else 'y' }}|{{ 'x' if b }}|{{ a and 'p' or 'q' }}|{{ not a }}|{{ 1 in [1,2] }}|{{ 3 not in [1,2] }}|{{ 'b' in 'abc' }}|{{ 'k' in {'k': 1} }}", "{\"a\": false, \"b\": false}", "y||q|True|True|True|True|True")]
    [InlineData("{{ true }}|{{ none }}|{{ 1.0 }}|{{ 1e20 }}|{{ 0.00001 }}|{{ [1, 'a', none, true, 1.5] }}|{{ {'a': [1], 'b': {'c': 'it\\'s'}} }}|{{ (1,) }}|{{ (1, 2) }}|{{ 'a\\tb\\n' }}", "{}", "True|None|1.0|1e+20|1e-05|[1, 'a', None, True, 1.5]|{'a': [1], 'b': {'c': \"it's\"}}|(1,)|(1, 2)|a\tb\n")]
    [InlineData("{{ undefined_var }}|{{ undefined_var is defined }}|{{ undefined_var is undefined }}|{{ undefined_var | length }}|{{ undefined_var | default('dflt') }}|{{ '' | default('e', true) }}|{% for x in undefined_var %}x{% endfor %}", "{}", "|False|True|0|dflt|e|")]
    [InlineData("{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ [1.5, none, true] | tojson }}|{{ {} | tojson(indent=4) }}|{{ d | tojson(sort_keys=true) }}", "{\"d\": {\"b\": [1, {\"x\": \"y\"}], \"a\": \"ü🙂\"}}", "{\"b\": [1, {\"x\": \"y\"}], \"a\": \"ü🙂\"}|{\n  \"b\": [\n    1,\n    {\n      \"x\": \"y\"\n    }\n  ],\n  \"a\": \"ü🙂\"\n}|\"é\\\"\\n\"|[1.5, null, true]|{}|{\"a\": \"ü🙂\", \"b\": [1, {\"x\": \"y\"}]}")]
    [InlineData("{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ ' a '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}", "{}", "a b|a|a|axx|xxa|['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a b', 'c']")]
    [InlineData("{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'hello world'.title() }}|{{ \"they're bill's\".title() }}|{{ 'hello-world x' | title }}|{{ 'hELLO' | capitalize }}|{{ 'aXb'.upper() }}{{ 'aXb'.lower() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abc' | replace('b', 'B') }}", "{}", "True|True|Hello World|They'Re Bill'S|Hello-World X|Hello|AXBaxb|bba|aBc")]
    [InlineData("{{ msgs | selectattr('role', 'equalto', 'user') | list | length }}|{{ msgs | rejectattr('role', 'eq', 'user') | map(attribute='content') | join(', ') }}|{{ msgs | map(attribute='role') | unique | list }}|{{ msgs | first }}|{{ (msgs | last).content }}", "{\"msgs\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}]}", "2|b|['user', 'assistant']|{'role': 'user', 'content': 'a'}|c")]
    [InlineData("{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A', 'c'] | sort(case_sensitive=true) }}|{{ [1, 2] | reverse | list }}|{{ 'abc' | reverse }}|{{ ['a', 'A', 'b'] | unique | list }}|{{ [1, 2, 3] | sum }}|{{ [1, 5, 2] | max }}|{{ [1, 5, 2] | min }}", "{}", "[1, 2, 3]|['A', 'b', 'c']|['A', 'b', 'c']|[2, 1]|cba|['a', 'b']|6|5|1")]
    [InlineData("{{ '42' | int }}|{{ 'x' | int }}|{{ '3.7' | int }}|{{ 3.7 | int }}|{{ '1.5' | float }}|{{ -3 | abs }}|{{ 2.5 | round }}|{{ 3.14159 | round(2) }}|{{ 1 | string }}|{{ 'Hello World foo' | wordcount }}|{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}", "{}", "42|0|3|3|1.5|3|2.0|3.14|1|3|a\n  b|  a\n  b")]
    [InlineData("{{ x is none }}|{{ x is string }}|{{ 's' is string }}|{{ {} is mapping }}|{{ [] is iterable }}|{{ 's' is iterable }}|{{ 1 is iterable }}|{{ [] is sequence }}|{{ 1 is number }}|{{ 1.5 is integer }}|{{ true is boolean }}|{{ true is true }}|{{ 1 is false }}|{{ 2 is in [1, 2] }}|{{ 3 is ne 3 }}|{{ 4 is even }}|{{ 9 is divisibleby 3 }}", "{\"x\": null}", "True|False|True|True|True|True|False|True|True|False|True|True|False|True|False|True|True")]
    [InlineData("{% macro greet(name, greeting='Hi') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Bob') }} {{ greet('Al', greeting='Yo') }}", "{}", "Hi, Bob! Yo, Al!")]
    [InlineData("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}", "{}", "[inner]")]
    [InlineData("{% set body %}  x {{ 1 + 1 }}  {% endset %}[{{ body }}]{% set t | trim %}  y  {% endset %}[{{ t }}]", "{}", "[  x 2  ][y]")]
    [InlineData("{% filter upper %}abc{{ 'd' }}{% endfilter %}|{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}", "{}", "ABCD|3")]
    [InlineData("{{ \"a\" \"b\" }}|{{ 'it\\'s' }}|{{ \"\\u00e9\\x41\" }}|{{ 'a\\\\b' }}|{{ 1_000 }}|{{ 1.5e3 }}", "{}", "ab|it's|éA|a\\b|1000|1500.0")]
    [InlineData("{% for a, b in [(1, 2), (3, 4)] %}{{ a }}{{ b }}{% endfor %}|{% set p, q = [5, 6] %}{{ p }}{{ q }}", "{}", "1234|56")]
    [InlineData("{{ {'a': 1}.get('a') }}|{{ {'a': 1}.get('b', 'z') }}|{{ {'a': 1}.keys() | list }}|{{ {'a': 1}.values() | list }}|{{ {'a': 1}.items() | list }}", "{}", "1|z|['a']|[1]|[('a', 1)]")]
    [InlineData("{% for x in [1, 2, 3] %}{{ loop.cycle('odd', 'even') }}{{ loop.previtem }}{{ loop.nextitem }} {% endfor %}", "{}", "odd2 even13 odd2 ")]
    [InlineData("{% raw %}{{ not evaluated }}{% endraw %}", "{}", "{{ not evaluated }}")]
    [InlineData("{{ '%s and %d' % ('a', 3) }}|{{ '%05.2f' | format(3.14159) }}|{{ 'x{}y{}'.format(1, 'b') }}", "{}", "a and 3|03.14|x1yb")]
    [InlineData("{{ [1, 2] + [3] }}|{{ 'ab' * 3 }}|{{ 1 < 2 < 3 }}|{{ 'a' < 'b' }}|{{ [1, 2] == [1, 2] }}|{{ (1, 2) == [1, 2] }}|{{ none == none }}", "{}", "[1, 2, 3]|ababab|True|True|True|False|True")]
    [InlineData("{{ xs[5] }}|{{ xs[5] is defined }}", "{\"xs\": [1]}", "|False")]
    [InlineData("{% for m in messages %}{% if m.role == 'user' %}U:{{ m.content }}{% elif m.role == 'assistant' %}A:{{ m.content }}{% else %}?{% endif %}\n{% endfor %}", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}, {\"role\": \"x\", \"content\": \"\"}]}", "U:hiA:yo?")]
    [InlineData("{{ 'abc' | list }}|{{ 'abc' | length }}|{{ 'héllo🙂' | length }}|{{ [1,2,3] | count }}|{{ {'a': 1} | length }}|{{ 'a' | first }}", "{}", "['a', 'b', 'c']|3|6|3|1|a")]
    [InlineData("{%- for m in msgs -%}\n  {{- m }}\n{%- endfor %}\nend\n", "{\"msgs\": [\"a\", \"b\"]}", "abend")]
    [InlineData("line1\n    {%- if true %}\n        x\n    {%- endif %}\n\nline2\n", "{}", "line1        x\nline2")]
    [InlineData("{% if true %}\r\nwin\r\n{% endif %}\r\n", "{}", "win\n")]
    [InlineData("{% set content = 'a</think>b' %}{% if '</think>' in content %}{{ content.split('</think>')[-1] }}{% endif %}", "{}", "b")]
    [InlineData("{{ x | default('d') }}|{{ none | default('d') }}|{{ none | default('d', true) }}", "{}", "d|None|d")]
    [InlineData("{{ [] | first }}|{{ {'a': {'b': 1}} | tojson(indent='\\t') }}", "{}", "|{\n\t\"a\": {\n\t\t\"b\": 1\n\t}\n}")]
    [InlineData("{{ true ** 9223372036854775807 }}|{{ (-1) ** 9223372036854775807 }}|{{ 0 ** 9223372036854775807 }}|{{ 2 ** 62 }}|{{ 3 ** 5 }}|{{ 7 ** 0 }}", "{}", "1|-1|0|4611686018427387904|243|1")]
    [InlineData("{{ 10 / 4 }}|{{ 10 / 5 }}|{{ 2 ** -1 }}|{{ 1.5 + 1 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 123456789012345.0 }}|{{ 1/3 }}", "{}", "2.5|2.0|0.5|2.5|0.30000000000000004|1e+16|123456789012345.0|0.3333333333333333")]
    [InlineData("{% for x in xs recursive %}[{{ x.n }}{% if x.c %}{{ loop(x.c) }}{% endif %}]{% endfor %}", "{\"xs\": [{\"n\": 1, \"c\": [{\"n\": 2, \"c\": []}]}, {\"n\": 3, \"c\": []}]}", "[1[2]][3]")]
    [InlineData("{{ 'a' is lower }}|{{ 'A' is upper }}|{{ none is sameas none }}|{{ 3 is odd }}|{{ x is callable }}|{{ range is callable }}", "{\"x\": 1}", "True|True|True|True|False|True")]
    [InlineData("{{ [1, 2, 3] | select('odd') | list }}|{{ [1, 2, 3] | reject('odd') | list }}|{{ ['a', 'b'] | map('upper') | list }}|{{ [{'a': 1}, {}] | map(attribute='a', default=0) | list }}", "{}", "[1, 3]|[2]|['A', 'B']|[1, 0]")]
    [InlineData("{{ users | groupby('city') }}|{{ [1, 2, 3, 4, 5] | batch(2) | list }}|{{ 'a b c d e f' | truncate(5) }}|{{ '<b>x</b> y' | striptags }}|{{ '<&>' | e }}", "{\"users\": [{\"city\": \"b\", \"n\": 1}, {\"city\": \"a\", \"n\": 2}, {\"city\": \"b\", \"n\": 3}]}", "[('a', [{'city': 'a', 'n': 2}]), ('b', [{'city': 'b', 'n': 1}, {'city': 'b', 'n': 3}])]|[[1, 2], [3, 4], [5]]|a...|x y|&lt;&amp;&gt;")]
    [InlineData("{{ d | dictsort(by='value', reverse=true) }}|{{ [2, 1] | sort(reverse=true) }}|{{ [{'n': 2}, {'n': 1}] | sort(attribute='n') }}|{{ [{'n': 2}, {'n': 1}] | sum(attribute='n') }}", "{\"d\": {\"a\": 2, \"b\": 1}}", "[('a', 2), ('b', 1)]|[2, 1]|[{'n': 1}, {'n': 2}]|3")]
    [InlineData("{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ 'abcabc'.find('c') }}|{{ 'abc'.rfind('z') }}|{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}|{{ '12'.isdigit() }}|{{ 'x'.center(5, '*') }}|{{ '7'.zfill(3) }}|{{ 'a=b=c'.partition('=') }}", "{}", "['a', 'b', 'c']|2|-1|2|a-b|True|**x**|007|('a', '=', 'b=c')")]
    [InlineData("{{ x.y }}", "{\"x\": null}", "")]
    [InlineData("{{ none.foo }}", "{}", "")]
    [InlineData("{{ m['a']['b'] }}", "{\"m\": {\"a\": null}}", "")]
    [InlineData("{{ xs | join(', ') }}|{{ xs | join }}|{{ [1, none] | join('-') }}", "{\"xs\": [\"a\", \"b\"]}", "a, b|ab|1-None")]
    [InlineData("{{ loop }}", "{}", "")]
    [InlineData("{{ {'a': 1} | tojson(indent=2, separators=(',', ' = ')) }}|{{ 'é' | tojson(ensure_ascii=true) }}", "{}", "{\n  \"a\" = 1\n}|\"\\u00e9\"")]
    [InlineData("{% if x is defined and x %}{{ x }}{% endif %}{{ y is not none }}", "{\"x\": \"v\", \"y\": 0}", "vTrue")]
    [InlineData("{{ 1 if true }}{{ [1, 2][5] | default('dd') }}{{ {}['k'] | default('kk') }}", "{}", "1ddkk")]
    [InlineData("{{ (1, 2)[0] }}{{ [[1, 2], [3]][0][1] }}{{ 'abc'[1] }}{{ xs.0 }}", "{\"xs\": [\"zero\"]}", "12bzero")]
    [InlineData("{{ 2 * 'ab' }}{{ [0] * 3 }}{{ 3 - 1.5 }}{{ -3 % 5 }}{{ 7.5 // 2 }}{{ 2 ** 0.5 }}", "{}", "abab[0, 0, 0]1.523.01.4142135623730951")]
    [InlineData("    {% if true %}\n    x\n    {% endif %}\n    y", "{}", "    x\n    y")]
    [InlineData("{{ 'x' }}   {% if true %}\n  z\n{% endif %}", "{}", "x     z\n")]
    [InlineData("{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}", "{}", "12(){}|13(){}")]
    [InlineData("{{ 'Hello %s, you are %d' % ('Bob', 30) }}|{{ '%(a)s-%(b)s' % {'a': 1, 'b': 2} }}|{{ '%.3f|%5s|%-5s|%x' % (3.14159, 'ab', 'cd', 255) }}", "{}", "Hello Bob, you are 30|1-2|3.142|   ab|cd   |ff")]
    [InlineData("{% set x = [1, 2] %}{{ x | last }}{{ x | first }}{{ (x | map('string') | join) }}", "{}", "2112")]
    public void RendersLikeJinja2(string template, string contextJson, string expected) =>
        Assert.Equal(expected, ChatTemplate.Parse(template).Render(TemplateTestHelpers.Context(contextJson)));

    [Theory]
    [InlineData("{{ undefined_var.attr }}", "{}", "UndefinedError: 'undefined_var' is undefined")]
    [InlineData("{{ m.content.content }}", "{\"m\": {\"role\": \"user\"}}", "UndefinedError: 'dict object' has no attribute 'content'")]
    [InlineData("{{ undefined_var + 'x' }}", "{}", "UndefinedError: 'undefined_var' is undefined")]
    [InlineData("{{ 'a' + 1 }}", "{}", "Error: can only concatenate str (not \"int\") to str")]
    [InlineData("{{ xs.append(1) }}", "{\"xs\": []}", "SecurityError: access to attribute 'append' of 'list' object is unsafe.")]
    [InlineData("{{ raise_exception('boom ' ~ 1) }}", "{}", "TemplateError: boom 1")]
    [InlineData("{{ 1 < 'a' }}", "{}", "Error: '<' not supported between instances of 'int' and 'str'")]
    [InlineData("{{ ns.missing }}", "{}", "UndefinedError: 'ns' is undefined")]
    [InlineData("{{ -1 | abs }}|{{ - 2 ** 2 }}|{{ not true == false }}|{{ 1 ~ 2 + 3 }}", "{}", "Error: can only concatenate str (not \"int\") to str")]
    [InlineData("{{ 'a' ~ 1 + 2 }}", "{}", "Error: can only concatenate str (not \"int\") to str")]
    [InlineData("{{ tools is none }}|{{ messages[0]['role'] }}|{{ foo.bar is defined if foo is defined else 'nofoo' }}", "{\"tools\": null, \"messages\": [{\"role\": \"system\"}]}", "TemplateSyntaxError: expected token 'end of print statement', got 'foo'")]
    [InlineData("{{ 1 / 0 }}", "{}", "Error: division by zero")]
    [InlineData("{{ 'ab' * 9223372036854775807 }}", "{}", "Error: repeated string is too long")]
    [InlineData("{{ foo() }}", "{}", "UndefinedError: 'foo' is undefined")]
    [InlineData("{{ 'abc'() }}", "{}", "Error: 'str' object is not callable")]
    [InlineData("{% for x in 5 %}{% endfor %}", "{}", "Error: 'int' object is not iterable")]
    [InlineData("{% set a, b = [1] %}", "{}", "Error: not enough values to unpack (expected 2, got 1)")]
    public void FailsLikeJinja2(string template, string contextJson, string expected)
    {
        var context = TemplateTestHelpers.Context(contextJson);
        Assert.Equal(expected, TemplateTestHelpers.PythonStyleError(() => ChatTemplate.Parse(template).Render(context)));
    }
}
