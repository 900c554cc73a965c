"""Phrase banks for the synthetic generator.

Each escalation stage has several *families*: distinct ways of voicing the same intent, each a few
templates whose ``{slots}`` are filled from ``SLOTS``. Every family belongs to one of ``N_FOLDS``
folds (its position modulo ``N_FOLDS``), and a generated conversation draws all its risky phrasing
from a single fold, so evaluation can hold out whole families rather than random rows.

Content rule: requests and threats are *named*, never described. Nothing here is graphic.
"""

from __future__ import annotations

N_FOLDS = 3

SLOTS: dict[str, list[str]] = {
    "compliment": [
        "cute", "really pretty", "mature for your age", "so funny", "different from the others",
        "gorgeous", "chill", "smart", "super talented", "easy to talk to", "special", "cool",
        "really attractive", "fire", "a vibe", "adorable",
    ],
    "greet": ["hey", "hi", "heyy", "yo", "hello", "sup", "hii", "hey there", "wassup", "hiya"],
    "app": [
        "snap", "snapchat", "insta", "whatsapp", "telegram", "discord", "kik", "signal", "wickr",
        "the other app", "my private account", "google chat", "messenger",
    ],
    "pic": [
        "pic", "photo", "picture", "selfie", "pics", "photos", "snap", "vid", "video",
    ],
    "private": [
        "private", "secret", "special", "just for me", "only for me", "no one else sees",
        "personal", "spicy",
    ],
    "family": [
        "your parents", "your mom", "your dad", "your family", "your school", "your friends",
        "your followers", "everyone you know", "your teachers", "your team", "your class",
        "your little sister", "your grandma", "your coach",
    ],
    "pay": [
        "gift cards", "a steam card", "an apple gift card", "cashapp", "venmo", "paypal", "bitcoin",
        "crypto", "zelle", "an amazon card", "google play cards", "usdt", "a razer gold card",
    ],
    "amount": [
        "$50", "$100", "$200", "$300", "$500", "$1000", "50 bucks", "100 dollars", "$250",
        "200 dollars", "$80", "$150", "500 usd", "£100", "€200",
    ],
    "deadline": [
        "in 10 minutes", "in an hour", "by tonight", "in 30 mins", "before midnight", "right now",
        "in 5 min", "by tomorrow morning", "today", "asap",
    ],
    "age": ["13", "14", "15", "16", "17"],
    "game": [
        "fortnite", "roblox", "minecraft", "valorant", "apex", "cod", "fifa", "league", "rocket league",
    ],
    "hobby": [
        "skating", "football", "basketball", "drawing", "music", "anime", "gaming", "dance",
        "soccer", "swimming", "guitar", "tiktok edits",
    ],
    "friendname": ["jake", "mia", "tyler", "emma", "noah", "liam", "ava", "sam", "alex", "jordan"],
    "item": [
        "bike", "ps5", "iphone", "jacket", "sneakers", "desk", "guitar", "textbook", "couch",
        "monitor", "headphones",
    ],
    "food": ["pizza", "tacos", "sushi", "burgers", "the movie tickets", "the uber", "bubble tea"],
}

# stage -> family -> templates. The order of families fixes their fold (index % N_FOLDS).
STAGE_FAMILIES: dict[str, dict[str, list[str]]] = {
    "rapport": {
        "flattery_direct": [
            "you're {compliment} honestly", "omg you are so {compliment}", "ngl you seem {compliment}",
            "has anyone told you you're {compliment}", "you're way more {compliment} than people here",
        ],
        "common_interest": [
            "no way you're into {hobby} too", "i love {hobby} as well, we have so much in common",
            "we should play {game} together sometime", "i saw your {hobby} posts, they're amazing",
            "you're really good at {hobby}, i could watch all day",
        ],
        "understanding": [
            "i get you more than your friends do", "you can tell me anything, i won't judge",
            "i feel like we've known each other forever", "adults just don't understand us right",
            "i'm always here for you when things are bad at home",
        ],
        "gifts": [
            "i can buy you {game} skins if you want", "want me to send you some robux",
            "i'll get you a gift card, no reason, you deserve it", "i sent you a little something",
            "let me pay for your game pass, my treat",
        ],
        "peer_pose": [
            "i'm {age} too lol", "same age as you haha, i'm in grade 10", "i'm a student too",
            "i just moved here, don't know anyone yet", "i'm new at {game}, teach me?",
        ],
        "special_bond": [
            "you're the only one i talk to like this", "talking to you is the best part of my day",
            "i think about our chats all the time", "nobody makes me smile like you do",
            "you're not like the others, you're special to me",
        ],
        "mirror_feelings": [
            "i've never clicked with someone this fast", "it's crazy how alike we are",
            "i swear we're the same person", "i can be myself around you",
            "you get my humour like nobody else does",
        ],
        "constant_attention": [
            "good morning, did you sleep ok", "i waited all day for you to text",
            "thinking about you rn", "text me the second you wake up", "missed talking to you today",
        ],
        "status_offer": [
            "i can get you more followers on {app}", "i know people who could make you famous",
            "i'll shout you out to all my followers", "you could model, i know an agency",
            "stick with me and i'll help you go pro at {game}",
        ],
    },
    "risk_check": {
        "age_probe": [
            "how old are you btw", "wait what grade are you in", "u in high school or middle school",
            "you look older than {age}", "what's your age, just curious",
        ],
        "supervision_probe": [
            "are your parents home right now", "do your parents check your phone",
            "does your mom look at your messages", "is anyone watching you right now",
            "do you have your own room",
        ],
        "alone_probe": [
            "are you alone rn", "anyone else home with you", "when are you home alone",
            "is your door locked", "so it's just you at home tonight?",
        ],
        "trust_probe": [
            "can i trust you with something", "you wouldn't tell anyone about us right",
            "do you tell your parents who you talk to", "are you the type who snitches",
            "do you delete your chats usually",
        ],
        "location_probe": [
            "which school do you go to", "what city are you in", "do you walk home by yourself",
            "what time do you get out of class", "where do you usually hang out after school",
        ],
        "experience_probe": [
            "have you ever had a boyfriend or girlfriend", "have you done this kind of chat before",
            "have you ever sent pics to anyone", "are you dating anyone",
            "do you ever talk to people you meet online",
        ],
        "device_probe": [
            "is this your own phone or a family one", "does anyone else use your laptop",
            "do your parents know your passcode", "is your phone on family sharing",
            "can your parents see your screen time",
        ],
        "schedule_probe": [
            "what time do your parents go to bed", "when do they get back from work",
            "what time do you usually sleep", "are you allowed up late on weekends",
            "do they come check on you at night",
        ],
        "support_probe": [
            "do you have many friends at school", "who do you talk to when you're sad",
            "are you close with your parents", "do you get along with your family",
            "do you feel lonely sometimes",
        ],
    },
    "isolation": {
        "move_app": [
            "let's talk on {app} instead", "add me on {app}, it's easier", "what's your {app}",
            "move to {app}, this app is buggy", "text me on {app} it's more private",
        ],
        "secrecy": [
            "don't tell anyone about us", "this stays between us ok", "keep this our secret",
            "your parents wouldn't understand, so don't mention me", "promise you won't tell anyone",
        ],
        "delete": [
            "delete our chat after", "clear this convo ok", "turn on disappearing messages",
            "delete my messages so no one sees", "make sure you erase this",
        ],
        "turn_against": [
            "your friends are fake, you only need me", "your parents don't care about you like i do",
            "don't listen to them, they're jealous", "nobody gets you like i do, forget them",
            "you don't need anyone else",
        ],
        "meet_offline": [
            "we should meet up sometime, just us", "i can come pick you up after school",
            "let's meet somewhere nobody knows us", "don't bring anyone when we meet",
            "i could visit your city next week, just us",
        ],
        "hidden_account": [
            "make a second account so your parents can't see", "use a private account to text me",
            "get a secret app so no one checks", "use the vault app to hide my chats",
            "make a finsta so we can talk",
        ],
        "exclusive": [
            "i don't want to share you with anyone", "only talk to me from now on",
            "block the other people texting you", "you only need to talk to me",
            "promise i'm the only one you chat with",
        ],
        "cover_story": [
            "if anyone asks, i'm a friend from {game}", "tell your mom i'm someone from school",
            "say i'm your cousin if they ask", "save my number under a fake name",
            "rename me in your contacts so no one knows",
        ],
        "night_contact": [
            "text me after everyone's asleep", "wait till they go to bed then message me",
            "stay up late with me tonight", "put your phone on silent so they don't hear",
            "call me when the house is quiet",
        ],
    },
    "sexual": {
        "pic_request": [
            "send me a {private} {pic}", "can you send a {pic} {private}", "show me a {private} {pic}",
            "i want a {pic} nobody else gets", "send a {pic} of you, the {private} kind",
        ],
        "trade": [
            "i'll send one if you send one", "let's trade {pic}s, {private} ones",
            "i showed you mine, now your turn", "i sent you one, it's only fair you send back",
            "we can swap {private} {pic}s",
        ],
        "pressure_request": [
            "come on just one {pic}, it's no big deal", "if you really liked me you'd send it",
            "everyone does it, just send a {pic}", "don't be shy, send the {pic}",
            "i'll stop talking to you if you don't send it",
        ],
        "camera": [
            "turn on your camera for me", "let's video call, just us", "go on cam, i want to see you",
            "do a private video call tonight", "open your camera real quick",
        ],
        "romantic_sexualised": [
            "you make me feel things, send something {private}", "i want to see more of you",
            "show me what you look like when you're alone", "i want a {pic} only a boyfriend would get",
            "send something you'd never post",
        ],
        "request_after_gift": [
            "i sent you the gift card, now send me a {pic}", "you owe me a {private} {pic} for the skins",
            "i paid for your stuff so send something {private}", "robux for a {pic}, deal?",
            "i'll send {amount} if you send a {private} {pic}",
        ],
        "verify_request": [
            "send me a {pic} right now so i know you're real", "prove it's you, send a {pic}",
            "verify yourself with a {pic} for me", "send a {pic} so i know you're not a bot",
            "i need a {pic} to believe it's really you",
        ],
        "more_request": [
            "that one's cute but send a more {private} one", "now send a {private} one",
            "another one, but more {private} this time", "the last {pic} was nice, send a better one",
            "send one you wouldn't show your friends",
        ],
        "disappearing_request": [
            "send it on {app}, it disappears anyway", "use view once, nobody will know",
            "it deletes after i see it so just send", "send a {private} {pic} on view once",
            "no one can screenshot on {app}, just send it",
        ],
    },
    "coercion": {
        "expose_family": [
            "i will send it to {family}", "i'm sending your {pic} to {family}",
            "imagine what {family} will think when they see it", "{family} are going to see everything",
            "i have the list of {family}, they all get it",
        ],
        "expose_public": [
            "i'll post it everywhere", "i'll send it to your followers",
            "it goes on every site with your name", "i'll make it go viral", "i'll tag your school in it",
        ],
        "have_content": [
            "i have your {pic}s saved", "i screenshotted everything", "i recorded the call",
            "i have your pics and all your contacts", "i have everything, don't play dumb",
        ],
        "ruin": [
            "your life is over", "i will ruin your life", "you'll be expelled when this gets out",
            "you're done, everyone will know", "your future is finished",
        ],
        "shame": [
            "you should be ashamed", "everyone will laugh at you", "you'll never show your face again",
            "think how embarrassing this will be", "no one will talk to you after this",
        ],
        "dont_tell": [
            "if you tell anyone i post it", "block me and it goes out", "talk to the police and it's over",
            "if you ignore me i send it", "try reporting me and see what happens",
        ],
        "reveal": [
            "guess what, i'm not who you thought", "i'm not {age} lol, you got played",
            "you really fell for it", "game's over, now listen carefully",
            "did you think this was real?",
        ],
        "show_reach": [
            "look, i already made a group chat with {family}", "i found {family} online, want me to send it",
            "i have a list of your followers, pick who sees it first", "i put your {pic} next to your name and school",
            "i can post it from a new account any time",
        ],
        "countdown": [
            "i'll start with {family}", "i'm typing the message to {family} now",
            "one click and it goes to {family}", "i'm about to hit send",
            "3 people see it first, then everyone",
        ],
    },
    "payment": {
        "demand": [
            "pay me {amount} or i send it", "send {amount} now", "i want {amount} {deadline}",
            "you have to pay {amount}", "{amount} and i delete everything",
        ],
        "method": [
            "send it by {pay}", "buy {pay} and send me the codes", "pay with {pay}",
            "get {pay} at the store and text me the numbers", "i only take {pay}",
        ],
        "deadline_pressure": [
            "you have {deadline}", "clock is ticking, {deadline}", "pay {deadline} or everyone sees",
            "if i don't get it {deadline} it's sent", "hurry up, {deadline}",
        ],
        "negotiate": [
            "fine then send what you have", "half now and half tomorrow", "borrow it from {friendname}",
            "take your parents card", "i don't care how you get it",
        ],
        "more_demand": [
            "that's not enough, i need more", "send another {amount} or it goes out",
            "one more payment and i'm gone", "i changed my mind, {amount} more", "now send the rest",
        ],
        "account": [
            "here is my {pay} tag, send it", "scan this wallet address", "send to this {pay} account",
            "use this {pay} username", "i'll give you the {pay} details",
        ],
        "ransom_framing": [
            "this is business, pay and it's over", "pay once and you'll never hear from me",
            "it's only money, your name is worth more", "pay and i delete it, you have my word",
            "think of it as a fee to keep it private",
        ],
        "instructions": [
            "go to the store and buy {pay}", "scratch the back of the card and send me the code",
            "download {pay} and add {amount}", "ask {friendname} to lend you {amount}",
            "tell the cashier it's a present",
        ],
        "proof_of_payment": [
            "send a screenshot when it's done", "send me the receipt",
            "show me the code or i post", "i haven't got anything yet, where is it",
            "did you send it? i'm checking now",
        ],
    },
}

# Replies of the young person. Stage "none" unless the reply itself names the threat or payment.
# Like the families, a reply's position modulo N_FOLDS fixes its fold (each line below is one
# reply per fold), so a held-out fold's replies are worded unlike any the model trained on.
VICTIM_REPLIES: dict[str, list[tuple[str, str]]] = {
    "rapport": [
        ("none", "haha thanks"), ("none", "aw ty"), ("none", "lmao thank u"),
        ("none", "aw that's sweet"), ("none", "that's so nice of you"), ("none", "you're making me blush"),
        ("none", "lol you too"), ("none", "same to you honestly"), ("none", "right back at you"),
        ("none", "i love {hobby}"), ("none", "{hobby} is my favourite thing"), ("none", "i do {hobby} every day"),
        ("none", "omg stop haha"), ("none", "no way haha"), ("none", "hehe you're funny"),
        ("none", "really?"), ("none", "wait for real?"), ("none", "you mean that?"),
        ("none", "ur sweet"), ("none", "stoppp"), ("none", "ok that made my day"),
        ("none", "haha maybe"), ("none", "we should"), ("none", "sounds fun"),
    ],
    "risk_check": [
        ("none", "i'm {age}"), ("none", "turning {age} soon"), ("none", "{age} why"),
        ("none", "yeah they're at work"), ("none", "parents are out till late"), ("none", "they went out"),
        ("none", "no one's home"), ("none", "just me here"), ("none", "house is empty lol"),
        ("none", "i'm in grade 9"), ("none", "8th grade"), ("none", "freshman year"),
        ("none", "why do you ask"), ("none", "why you wanna know"), ("none", "how come?"),
        ("none", "my mom doesn't check"), ("none", "nobody looks at my phone"), ("none", "my dad never checks"),
        ("none", "it's my own phone"), ("none", "they go to bed at 10"), ("none", "they don't know my passcode"),
        ("none", "not really lol"), ("none", "kinda, sometimes"), ("none", "i guess"),
    ],
    "isolation": [
        ("none", "ok sure"), ("none", "alright"), ("none", "yeah ok"),
        ("none", "my {app} is {friendname}_{age}"), ("none", "added you on {app}"), ("none", "i'm on {app} too"),
        ("none", "ok i won't tell"), ("none", "my lips are sealed"), ("none", "i'll keep it quiet"),
        ("none", "why tho"), ("none", "how come"), ("none", "that's kinda weird but ok"),
        ("none", "fine"), ("none", "whatever you say"), ("none", "if you want"),
        ("none", "i already deleted it"), ("none", "done, it's gone"), ("none", "chat cleared"),
        ("none", "ok i'll stay up"), ("none", "they're asleep now"), ("none", "phone's on silent"),
    ],
    "sexual": [
        ("none", "idk about that"), ("none", "hmm not sure"), ("none", "i don't know"),
        ("none", "no i don't do that"), ("none", "i've never done that"), ("none", "not my thing"),
        ("none", "maybe later"), ("none", "another time maybe"), ("none", "not right now"),
        ("none", "that's weird"), ("none", "that's kinda creepy"), ("none", "that's strange"),
        ("none", "ok just one"), ("none", "only once ok"), ("none", "fine one time"),
        ("none", "i'm not comfortable"), ("none", "this makes me nervous"), ("none", "i feel weird about it"),
        ("none", "why do you want that"), ("none", "what for"), ("none", "why would you need that"),
        ("none", "i'll think about it"), ("none", "give me a minute"), ("none", "let me see"),
    ],
    "coercion": [
        ("coercion", "please don't send it"), ("coercion", "don't send it to anyone please"),
        ("coercion", "please please don't share it"),
        ("coercion", "please don't show {family}"), ("coercion", "don't let {family} see it"),
        ("coercion", "not {family} please"),
        ("coercion", "why are you doing this"), ("coercion", "why would you do this to me"),
        ("coercion", "what did i do to you"),
        ("coercion", "i'll do anything just don't post it"), ("coercion", "tell me what you want, just don't post it"),
        ("coercion", "i'm begging you don't post it"),
        ("coercion", "please delete it"), ("coercion", "just delete it please"), ("coercion", "delete it now please"),
        ("none", "i'm going to report you"), ("none", "i'm reporting this"), ("none", "reported"),
        ("none", "leave me alone"), ("none", "stop messaging me"), ("none", "go away"),
        ("none", "who are you really"), ("none", "you said you were {age}"),
        ("none", "you lied to me"),
    ],
    "payment": [
        ("payment", "i don't have that much money"), ("payment", "i can't afford that"),
        ("payment", "i have no money"),
        ("payment", "i only have {amount}"), ("payment", "all i have is {amount}"), ("payment", "can i send {amount}"),
        ("payment", "i can't get {pay}"), ("payment", "i don't know how to use {pay}"),
        ("payment", "i don't have {pay}"),
        ("payment", "ok i'll pay just don't send it"), ("payment", "fine i'll send the money"),
        ("payment", "i'll pay, please stop"),
        ("payment", "i sent it, now delete it"), ("payment", "paid, delete it please"),
        ("payment", "i sent the money"),
        ("none", "i'm telling my parents"), ("none", "i'm going to tell my mom"), ("none", "i'll tell an adult"),
        ("payment", "where do i even buy {pay}"), ("payment", "the store is closed, i can't get {pay}"),
        ("payment", "how do i send the code"),
    ],
}
# The young person's refusals in the pushback scenario, by fold in the same way.
REFUSALS: list[str] = ["no", "nope", "nah", "no way", "not happening", "absolutely not",
                       "i said no", "i told you no", "i already said no", "stop asking", "quit asking", "stop it"]

SMALLTALK: list[str] = [
    "lol", "what are you up to", "nm just chilling", "did you see that video", "haha same",
    "i'm bored", "school was so long today", "what music do you like", "gtg eat dinner",
    "brb", "that's crazy", "ok", "yeah", "nice", "what's up", "how was your day",
    "i just got home", "watching netflix", "so tired", "lmao", "fr", "idk",
    "wyd", "bruh", "that's wild", "my phone's about to die", "i have a test tomorrow",
    "omg same", "hbu", "ngl", "just finished homework", "ok cool", "hahaha",
]
