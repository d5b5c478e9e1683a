"""The lexicon that ranks the 12 general fields: characteristic terms of each field.

Data only (written for vidsum, issue 18): lower-case terms, words separated by spaces (a hyphen
in the text counts as a space, a plural "s" is ignored). A term listed under several fields
counts for each, divided among them. Imports the schema (the field names).
"""

from __future__ import annotations

from engine.schema import GENERAL_FIELDS

_TERMS: dict[str, str] = {
    "Algorithms and Data Structures": """
        algorithm; algorithmic; binary search; linear search; sorting; sort; sorted; bubble sort;
        selection sort; insertion sort; merge sort; quicksort; heapsort; heap; hash table;
        hash function; hashing; consistent hashing; linked list; array; stack; queue;
        priority queue; binary tree; binary search tree; tree; graph; trie; recursion;
        recursive; dynamic programming; greedy; divide and conquer; big o; running time;
        time complexity; space complexity; worst case; best case; log n; n squared; dijkstra;
        breadth first; depth first; traversal; data structure; swap; pivot; bloom filter;
        search algorithm; shortest path; iterate; iteration; element
    """,
    "Artificial Intelligence (AI) and Machine Learning": """
        artificial intelligence; ai; machine learning; deep learning; neural network;
        neural net; model; llm; language model; large language model; transformer; attention;
        self attention; sliding window attention; training; inference; fine tuning;
        fine tune; embedding; gradient; gradient descent; backpropagation; loss function;
        classifier; classification; reinforcement learning; agent; ai agent; prompt;
        prompting; token; tokenizer; gpt; chatgpt; claude; openai; anthropic; mistral;
        mixture of experts; kv cache; weights; parameter; perceptron; convolutional; rag;
        hallucination; lora; quantization; chatbot; reasoning model; context window;
        agentic; copilot
    """,
    "Computer Architecture": """
        computer architecture; cpu; processor; gpu; cache; cpu cache; cpu core; register;
        instruction; instruction set; assembly; assembly language; machine code; memory;
        ram; hardware; transistor; clock; clock cycle; branch prediction; alu; arm; x86;
        risc; bus; byte; 64 bit; 32 bit; memory address; address space; virtual memory;
        page table; operating system; kernel; simd; vector instruction; stack frame;
        calling convention; l1 cache; multicore; microarchitecture; firmware; fpga; chip;
        silicon; vram; cuda; pointer; hexadecimal; floating point
    """,
    "Data Science and Analytics": """
        data science; data scientist; analytics; analysis; data analysis; statistics;
        statistical; pandas; numpy; dataframe; jupyter; notebook; dashboard; regression;
        linear regression; correlation; arithmetic mean; standard deviation; median;
        average; distribution; probability; sample; sampling; dataset; data set; csv;
        spreadsheet; excel; etl; data pipeline;
        big data; spark; hadoop; metric; ab test; experiment; insight; data cleaning;
        outlier; histogram; feature engineering; tableau; kaggle; scikit learn; forecast;
        survey
    """,
    "Database Systems and Management": """
        database; sql; query; queries; index; indexing; transaction; acid; schema; postgres;
        postgresql; mysql; sqlite; mongodb; redis; nosql; key value store; primary key;
        foreign key; join; orm; migration; replication; sharding; consistency; b tree;
        row; column; relational; relational database; normalization; stored procedure;
        cassandra; dynamodb; query planner; write ahead log; crud; data model;
        document store; table; record; persistence; storage engine
    """,
    "Human-Computer Interaction (HCI)": """
        human computer interaction; hci; user interface; ui; ux; user experience;
        usability; accessibility; interaction; interface; screen reader; button; click;
        mouse; keyboard; touchscreen; gesture; layout; user research; prototype;
        wireframe; figma; persona; cognitive; affordance; display; voice interface;
        virtual reality; augmented reality; vr; eye tracking; user testing; end user;
        menu; icon; font; screen; design system; user feedback
    """,
    "Programming Languages and Software Development": """
        programming language; compiler; interpreter; bytecode; jit; jit compiler;
        just in time; syntax; semantics; type system; static typing; dynamic typing;
        type checker; generics; garbage collector; garbage collection; function; variable;
        class; object; method; library; python; cpython; java; rust; golang; go
        language; haskell; lisp; parser; abstract syntax tree; macro; runtime; concurrency;
        goroutine; closure; lambda; memory safety; borrow checker; ownership; ide;
        debugger; refactoring; source code; programming; programmer; open source; package;
        module; standard library; compile; gcc; llvm; code; coding; loop; int; string;
        printf; header file; pep; webassembly; wasm; profiler; profiling
    """,
    "Software Engineering and System Design": """
        software engineering; software engineer; system design; software architecture;
        microservice; monolith; scalability; scale; load balancer; distributed system;
        deployment; deploy; container; docker; kubernetes; virtual machine; vm; cloud; aws;
        server; infrastructure; devops; continuous integration; testing; unit test;
        test suite; version control; git; github; code review; requirement; maintainability;
        design pattern; api design; reliability; fault tolerance; throughput;
        message queue; production; release; backward compatibility; dependency;
        hypervisor; configuration; workflow; automation; benchmark; benchmarking; profiler;
        profiling
    """,
    "Web Development and Internet Technologies": """
        web; website; web app; web application; browser; html; css; javascript; typescript;
        react; angular; vue; node; nodejs; express; frontend; front end; backend; back end;
        http; https; url; rest api; restful; api; json; dom; component; hooks; server side;
        client side; web server; nginx; ssl; domain; dns; internet; tcp; cookie; django;
        flask; fastapi; rails; php; webassembly; wasm; npm; jsx; state management; endpoint;
        jquery; web page
    """,
    "Computer Graphics and Visualization": """
        computer graphics; graphics; rendering; render; shader; pixel; polygon; mesh;
        texture; ray tracing; rasterization; opengl; vulkan; directx; 3d; 2d; animation;
        image processing; game engine; frame rate; fps; visualization; chart; plot;
        matplotlib; color; lighting; camera; vertex; triangle; geometry; blender; unity;
        unreal; canvas; svg;
        webgl; d3; sprite; video game
    """,
    "Theoretical Computer Science": """
        theoretical computer science; theory; theorem; proof; complexity class; p versus np;
        np complete; np hard; turing machine; turing; automaton; automata;
        finite state machine; regular expression; formal language; grammar; computability;
        decidability; halting problem; lambda calculus; logic; boolean; set theory;
        graph theory; combinatorics; asymptotic; lower bound; upper bound; omega; theta;
        reduction; polynomial time; exponential; logarithm; logarithmic; information theory;
        entropy; mathematical; induction; invariant; correctness; formal verification;
        cryptography
    """,
    "Quantum Computing": """
        quantum; quantum computing; quantum computer; qubit; superposition; entanglement;
        quantum gate; shor; grover; decoherence; quantum circuit; hadamard;
        quantum algorithm; quantum mechanics; photon; quantum error correction;
        quantum supremacy; quantum advantage; ion trap; superconducting; quantum annealing;
        bloch sphere; quantum key distribution; post quantum; quantum state; interference;
        amplitude; measurement; ibm quantum; qiskit
    """,
}
assert tuple(_TERMS) == GENERAL_FIELDS

LEXICON: dict[str, tuple[str, ...]] = {
    name: tuple(" ".join(t.split()) for t in text.split(";") if t.strip())
    for name, text in _TERMS.items()
}
