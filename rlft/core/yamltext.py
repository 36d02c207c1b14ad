"""Reading a recipe's YAML: PyYAML's safe loader, except that a key given twice is an error, a document may
expand to at most MAX_NODES nodes (aliases counted each time they are used), and every error is a one-line
message that says where the problem is."""

from __future__ import annotations

import yaml

MAX_NODES = 100_000  # a recipe has hundreds; aliases of aliases ("billion laughs") expand to billions
MAX_DEPTH = 200  # brackets inside brackets: PyYAML's scanner slows quadratically with the depth
MERGE = "tag:yaml.org,2002:merge"


class Refused(ValueError):
    """Well-formed YAML that rlft refuses: a key given twice, too many values, nesting too deep."""


class DuplicateKey(yaml.constructor.ConstructorError):
    pass


class TooDeep(yaml.scanner.ScannerError):
    pass


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping: plain YAML keeps the last one, so a
    second `sft:` stage (or `seed:`) would silently replace the first. Keys a merge (`<<: *base`) brings in
    may be set again: that is what a merge is for."""

    def fetch_flow_collection_start(self, TokenClass):
        if self.flow_level >= MAX_DEPTH:
            raise TooDeep(None, None, f"nested too deeply (more than {MAX_DEPTH} levels of brackets)", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise DuplicateKey(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark)
            if isinstance(key, (str, int, float, bool)):
                seen.add(key)
        return super().construct_mapping(node, deep)


def expanded_size(node, sizes: dict | None = None) -> int:
    """How many nodes the document has once every alias is replaced by what it names; a node that contains
    itself counts as more than MAX_NODES. Memoised, so a bomb is measured without being expanded."""
    sizes = {} if sizes is None else sizes
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = MAX_NODES + 1  # while in progress: reaching it again means a cycle
    children = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    size = 1
    for child in children:
        size += expanded_size(child, sizes)
        if size > MAX_NODES:
            break
    sizes[id(node)] = size
    return size


def unshare(data):
    """A copy in which no two places hold the same list or mapping: YAML aliases (and merges) give shared
    objects, and an override of one stage must not change the stage that is an alias of it."""
    if isinstance(data, dict):
        return {k: unshare(v) for k, v in data.items()}
    if isinstance(data, list):
        return [unshare(v) for v in data]
    return data


def problem(e: yaml.YAMLError) -> str:
    """'line 3, column 5: expected ',' or ']', but got '<stream end>'' from a PyYAML error."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    text = " ".join(str(getattr(e, "problem", None) or e).split())
    context = getattr(e, "context", None)
    if context and getattr(e, "problem", None):
        text = f"{text} ({' '.join(context.split())})"
    return f"line {mark.line + 1}, column {mark.column + 1}: {text}" if mark else text


def load(text: str):
    """Parse YAML text into plain data without shared objects. A syntax error or an unsafe tag raises
    ValueError (see `problem`); a repeated key, a document expanding past MAX_NODES or one nested too deeply
    raises Refused, a ValueError too."""
    loader = UniqueKeyLoader(text)  # a SafeLoader subclass: no arbitrary objects
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if expanded_size(node) > MAX_NODES:
            raise Refused(f"expands to more than {MAX_NODES:,} values (through aliases, or an alias that "
                             "contains itself); a recipe needs far fewer")
        return unshare(loader.construct_document(node))
    except (DuplicateKey, TooDeep) as e:
        raise Refused(problem(e)) from None
    except yaml.YAMLError as e:
        raise ValueError(problem(e)) from None
    except RecursionError:
        raise Refused("nested too deeply (hundreds of levels of indentation)") from None
    finally:
        loader.dispose()
