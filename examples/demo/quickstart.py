"""RAG over notes on this project, twice: a LangChain chain and a LlamaIndex query engine.

The models are given as two serving-endpoint configs (the body that would create each endpoint),
so this runs the code path of a hosted endpoint: ``demo-chat`` (``llm/v1/chat``) and
``demo-embeddings`` (``llm/v1/embeddings``). ``make demo`` starts local servers for the bundled
configs (examples/demo/run.py) and runs this; against your own endpoints:

    python examples/demo/quickstart.py --chat-config my_chat.json \\
        --embeddings-config my_embeddings.json [--corpus README.md] [--question "..."]

The bundled corpus (examples/demo/corpus/) says in short plain sentences what the README says at
length: SmolLM2-135M, the demo's chat model, answers well from such sentences and poorly from
dense Markdown with code (try ``--corpus README.md``). A larger model handles either.

Secrets in the configs are ``{{secrets/scope/key}}`` references, resolved as everywhere (the
bundled configs use ``{{secrets/demo/local}}``, which run.py sets to the local servers' key).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extmodels_integrations import ExternalModelError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHAT_CONFIG = HERE / "chat_endpoint.json"
EMBEDDINGS_CONFIG = HERE / "embeddings_endpoint.json"
CORPUS = sorted((HERE / "corpus").glob("*.md"))
# Questions the 135M demo model answers from the corpus (checked by eye); ask yours with
# --question (given twice, LangChain gets the first, LlamaIndex the second).
QUESTIONS = ("How many times is a request retried?", "What is an endpoint config?")
SYSTEM = "Answer the question in one or two sentences, using only the context."
USER = "Context:\n{context}\n\nQuestion: {question}"
# A small model may go on to ask itself a next question: the answer ends there.
STOP = ["\nQuestion:"]
TOP_K = 2
CHUNK_CHARS = 600  # small chunks keep a small model's context short and on topic
MAX_TOKENS = 120
EMBED_BATCH = 2  # texts per embeddings request: few, so the progress bar moves on a small corpus


@dataclass(frozen=True)
class Chunk:
    """A piece of prose and where it came from ("README.md > Secrets")."""

    source: str
    text: str


def load_corpus(paths: Iterable[Path]) -> list[Chunk]:
    """Markdown files as prose chunks per section; code blocks and tables are left out, since
    a small model answers better from sentences."""
    return [chunk for path in paths for chunk in _chunks(path)]


def _chunks(path: Path) -> Iterator[Chunk]:
    heading, paragraphs = path.name, []
    for block in _prose_blocks(path.read_text(encoding="utf-8")):
        if block.startswith("#"):
            yield from _pack(f"{path.name} > {heading}", paragraphs)
            heading, paragraphs = block.lstrip("#").strip(), []
        else:
            paragraphs.append(block)
    yield from _pack(f"{path.name} > {heading}", paragraphs)


def _prose_blocks(markdown: str) -> Iterator[str]:
    without_code = re.sub(r"^```.*?^```[^\n]*$", "", markdown, flags=re.S | re.M)
    for block in re.split(r"\n\s*\n", without_code):
        # Headings and list items start their own piece; table rows are dropped.
        for piece in re.split(r"\n(?=#|\s*(?:[-*]|\d+\.) )", block.strip()):
            lines = [line.strip() for line in piece.splitlines() if not line.startswith("|")]
            text = " ".join(line for line in lines if line)
            if text:
                yield text


def _pack(source: str, paragraphs: list[str]) -> Iterator[Chunk]:
    current = ""
    for sentence in (s for p in paragraphs for s in _sentences(p)):
        if current and len(current) + len(sentence) > CHUNK_CHARS:
            yield Chunk(source, current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        yield Chunk(source, current)


def _sentences(paragraph: str) -> list[str]:
    """The paragraph whole when it fits a chunk, else its sentences."""
    if len(paragraph) <= CHUNK_CHARS:
        return [paragraph]
    return re.split(r"(?<=[.;:])\s+(?=[A-Z*`(])", paragraph)


# -- LangChain ----------------------------------------------------------------------------------


Usage = tuple[int, int]
"""(prompt, completion) tokens, as the chat endpoint reported them."""


def langchain_rag(chunks: list[Chunk], chat: Path, embeddings: Path, question: str) -> Usage | None:
    """Retriever (InMemoryVectorStore over ExternalEmbeddings), prompt, streaming ChatExternal.
    Returns the usage the endpoint reported with the stream, if it did."""
    from langchain_core.documents import Document
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
    from langchain_core.vectorstores import InMemoryVectorStore
    from tqdm import tqdm

    from extmodels_integrations.langchain import ChatExternal, ExternalEmbeddings

    print("\n== LangChain: InMemoryVectorStore retriever | prompt | ChatExternal (streaming)")
    store = InMemoryVectorStore(ExternalEmbeddings(endpoint_config=embeddings))
    docs = [Document(c.text, metadata={"source": c.source}) for c in chunks]
    with tqdm(total=len(docs), desc="embedding", unit="chunk") as bar:
        for start in range(0, len(docs), EMBED_BATCH):
            batch = docs[start : start + EMBED_BATCH]
            store.add_documents(batch)
            bar.update(len(batch))

    llm = ChatExternal(endpoint_config=chat, temperature=0, max_tokens=MAX_TOKENS, stop=STOP)
    prompt = ChatPromptTemplate.from_messages([("system", SYSTEM), ("user", USER)])

    def with_context(x: dict[str, Any]) -> dict[str, str]:
        return {"context": "\n\n".join(d.page_content for d in x["docs"]), **x}

    chain = RunnableParallel(
        docs=store.as_retriever(search_kwargs={"k": TOP_K}), question=RunnablePassthrough()
    ).assign(answer=RunnableLambda(with_context) | prompt | llm)

    print(f"Q: {question}\nA: ", end="", flush=True)
    sources: list[str] = []
    answer = None
    for part in chain.stream(question):
        sources = [d.metadata["source"] for d in part.get("docs", [])] or sources
        if "answer" in part:
            print(part["answer"].content, end="", flush=True)
            answer = part["answer"] if answer is None else answer + part["answer"]
    _print_sources(sources)
    usage = answer.usage_metadata if answer is not None else None
    return (usage["input_tokens"], usage["output_tokens"]) if usage else None


# -- LlamaIndex ---------------------------------------------------------------------------------


def llama_index_rag(
    chunks: list[Chunk], chat: Path, embeddings: Path, question: str
) -> Usage | None:
    """VectorStoreIndex over ExternalEmbeddings, streaming query engine on ChatExternal.
    Returns the usage the endpoint reported with the stream, if it did."""
    from llama_index.core import ChatPromptTemplate, Settings, VectorStoreIndex
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.llms import ChatMessage
    from llama_index.core.schema import TextNode

    from extmodels_integrations.llama_index import ChatExternal, ExternalEmbeddings

    print("\n== LlamaIndex: VectorStoreIndex | streaming query engine on ChatExternal")
    # Engines hand their own callback manager to the LLM, so the handler goes on Settings.
    reported = _reported_usage()
    Settings.callback_manager = CallbackManager([reported])
    embed_model = ExternalEmbeddings(endpoint_config=embeddings, embed_batch_size=EMBED_BATCH)
    nodes = [
        # The source is shown, not embedded or given to the model: same text as LangChain's.
        TextNode(
            text=c.text,
            metadata={"source": c.source},
            excluded_embed_metadata_keys=["source"],
            excluded_llm_metadata_keys=["source"],
        )
        for c in chunks
    ]
    index = VectorStoreIndex(nodes, embed_model=embed_model, show_progress=True)

    llm = ChatExternal(endpoint_config=chat, temperature=0, max_tokens=MAX_TOKENS, stop=STOP)
    template = ChatPromptTemplate(
        [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(
                role="user", content=USER.format(context="{context_str}", question="{query_str}")
            ),
        ]
    )
    engine = index.as_query_engine(
        llm=llm, streaming=True, similarity_top_k=TOP_K, text_qa_template=template
    )
    print(f"Q: {question}\nA: ", end="", flush=True)
    response = engine.query(question)
    for token in response.response_gen:
        print(token, end="", flush=True)
    _print_sources(
        [f"{n.node.metadata['source']} (score {n.score:.2f})" for n in response.source_nodes]
    )
    return reported.usage


def _reported_usage() -> Any:
    """A LlamaIndex callback handler keeping the usage the endpoint reported on LLM responses.
    TokenCountingHandler would estimate missing counts with a local tokenizer instead."""
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler

    class ReportedUsage(BaseCallbackHandler):
        def __init__(self) -> None:
            super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
            self.usage: Usage | None = None

        def on_event_start(self, *args: Any, event_id: str = "", **kwargs: Any) -> str:
            return event_id

        def on_event_end(
            self,
            event_type: CBEventType,
            payload: dict[str, Any] | None = None,
            event_id: str = "",
            **kwargs: Any,
        ) -> None:
            response = (payload or {}).get(EventPayload.RESPONSE)
            # Our ChatExternal puts the reported usage in additional_kwargs, and only that.
            counts = getattr(response, "additional_kwargs", None) or {}
            if event_type is CBEventType.LLM and "prompt_tokens" in counts:
                before = self.usage or (0, 0)
                self.usage = (
                    before[0] + counts["prompt_tokens"],
                    before[1] + counts["completion_tokens"],
                )

        def start_trace(self, trace_id: str | None = None) -> None:
            pass

        def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
            pass

    return ReportedUsage()


def _print_sources(sources: list[str]) -> None:
    print("\nsources:")
    for i, source in enumerate(sources, 1):
        print(f"  [{i}] {source}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chat-config", type=Path, default=CHAT_CONFIG)
    parser.add_argument("--embeddings-config", type=Path, default=EMBEDDINGS_CONFIG)
    parser.add_argument("--corpus", type=Path, nargs="+", default=CORPUS)
    parser.add_argument("--question", action="append", help="ask this (twice: one per framework)")
    args = parser.parse_args(argv)
    questions = args.question or list(QUESTIONS)
    first, second = questions[0], questions[-1]

    chunks = load_corpus(args.corpus)
    print(f"corpus: {len(chunks)} chunks from {len(args.corpus)} file(s)")
    started = time.perf_counter()
    runs = {
        "LangChain": langchain_rag(chunks, args.chat_config, args.embeddings_config, first),
        "LlamaIndex": llama_index_rag(chunks, args.chat_config, args.embeddings_config, second),
    }
    print_usage(runs, time.perf_counter() - started)


def print_usage(runs: dict[str, Usage | None], seconds: float) -> None:
    """Per framework and in total, the tokens the chat endpoint reported with its streams."""
    print("\n== usage (tokens as the chat endpoint reported them)")
    for name, usage in runs.items():
        print(f"  {name:<10} {_tokens(usage)}")
    reported = [u for u in runs.values() if u is not None]
    total = (sum(u[0] for u in reported), sum(u[1] for u in reported)) if reported else None
    total_text = _tokens(total) if total else "not reported"
    print(f"  {'total':<10} {total_text}; {len(runs)} answers in {seconds:.1f} s")


def _tokens(usage: Usage | None) -> str:
    if usage is None:
        # llama-cpp-python's server, for one, ignores stream_options.include_usage.
        return "not reported (the server sends no usage with streams)"
    return f"{usage[0]:>5} prompt + {usage[1]:>4} completion = {sum(usage):>5} tokens"


if __name__ == "__main__":
    try:
        main()
    except ExternalModelError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
